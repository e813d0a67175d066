/** Authentication and authorization of the syncflow API server, as Kubernetes extension servers do them. */
export * from './user.ts';
export * from './authenticator.ts';
export * from './authorizer.ts';
export * from './authentication-config.ts';
export * from '../../kube/reviews.ts';
export * from '../../kube/configmap-source.ts';
export {
  acceptClientCertificate,
  handshakeVerdict,
  parseCertificateBundle,
  peerCertificateChain,
} from './certificates.ts';
