/**
 * Who sent an admission review: kube-apiserver presents a client certificate to webhooks when an
 * AdmissionConfiguration gives it a kubeconfig for the webhook's host (docs/install.md). With
 * `--admission-client-ca`, a review counts as the API server's when the connection's certificate
 * chains to that CA (and, with `--admission-allowed-names`, its common name is one of them); every
 * other review is refused before its body is read. The CA must be among the TLS server's client CAs:
 * OpenSSL verifies the chain at the handshake, and Go clients present a certificate only when its
 * issuer is in the server's list of acceptable CAs.
 */
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AdmissionCaller, AdmissionCallers } from '../../admission/routes.ts';
import {
  acceptClientCertificate,
  handshakeVerdict,
  parseCertificateBundle,
  peerCertificateChain,
} from '../auth/index.ts';
import { subjectAttributes, type TrustedCertificate } from '../auth/certificates.ts';

/** Accepts reviews only from a client certificate issued by the admission client CA. */
export class ClientCertificateCallers implements AdmissionCallers {
  private readonly roots: TrustedCertificate[];

  /** `caPem`: the CA bundle; `allowedNames`: accepted common names (empty: any name the CA signed). */
  constructor(
    caPem: string,
    private readonly allowedNames: readonly string[] = [],
    private readonly now: () => number = Date.now,
  ) {
    this.roots = parseCertificateBundle(caPem);
  }

  identify(req: IncomingMessage): AdmissionCaller {
    const socket = req.socket as TLSSocket;
    const chain = typeof socket.getPeerCertificate === 'function' ? peerCertificateChain(socket) : [];
    if (chain.length === 0) return { apiServer: false, refusal: 'no client certificate was presented' };
    // OpenSSL verified the chain at the handshake (the admission CA is among the server's client CAs).
    const verdict = acceptClientCertificate(chain, this.roots, {
      verdict: handshakeVerdict(socket),
      now: this.now(),
    });
    if (!verdict.verified)
      return {
        apiServer: false,
        refusal: `the client certificate is not trusted for admission (${verdict.reason})`,
      };
    if (this.allowedNames.length > 0) {
      const names = subjectAttributes(chain[0] as NonNullable<(typeof chain)[0]>, 'CN');
      if (!names.some((n) => this.allowedNames.includes(n))) {
        return {
          apiServer: false,
          refusal: `the client certificate's common name is not one of --admission-allowed-names`,
        };
      }
    }
    return { apiServer: true };
  }
}
