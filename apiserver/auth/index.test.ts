import { expect } from 'chai';
import * as auth from './index.ts';

describe('apiserver/auth entry point', () => {
  it('exports the contract the server codes against', () => {
    for (const name of [
      'FrontProxyAuthenticator',
      'ClientCertAuthenticator',
      'TokenReviewAuthenticator',
      'UnionAuthenticator',
      'createDelegatingAuthenticator',
      'authRequestFrom',
      'SubjectAccessReviewAuthorizer',
      'AlwaysAllowPaths',
      'forbiddenMessage',
      'parseAuthenticationConfigMap',
      'AuthenticationConfigWatcher',
      'tlsClientCAs',
      'KubernetesReviewClient',
      'KubernetesConfigMapSource',
      'peerCertificateChain',
      'ANONYMOUS_USER',
    ]) {
      expect(auth, name).to.have.property(name);
    }
  });
});
