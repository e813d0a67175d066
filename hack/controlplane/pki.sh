#!/usr/bin/env bash
# Generates the certificates of a development control plane into $1 (a fresh directory):
#   serving-ca      -> apiserver            kube-apiserver serving cert
#   front-proxy-ca  -> front-proxy-client   the aggregator's client cert towards extension servers
#   client-ca       -> admin                system:masters, for the admin kubeconfig
#                   -> syncflow-server      the syncflow server's identity towards kube-apiserver
#   syncflow-ca     -> syncflow-serving     the syncflow server's serving cert; syncflow-ca.crt is the
#                                           APIService caBundle
#   webhook-client-ca -> webhook-client     kube-apiserver's client cert towards admission webhooks
#                                           (AdmissionConfiguration kubeConfigFile; the server's
#                                           --admission-client-ca)
#   sa.key/sa.pub                           service-account token signing key pair
# ECDSA P-256 keys: generated in milliseconds and accepted by every Kubernetes component.
set -euo pipefail

pki="${1:?usage: pki.sh DIR}"
mkdir -p "$pki"
umask 077

new_ca() { # name commonName
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$pki/$1.key" -out "$pki/$1.crt" -days 30 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

new_cert() { # name ca subject extendedKeyUsage [subjectAltName]
  local name="$1" ca="$2" subject="$3" eku="$4" san="${5:-}"
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$pki/$name.key" -out "$pki/$name.csr" -subj "$subject" 2>/dev/null
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$eku"
    [[ -n "$san" ]] && echo "subjectAltName=$san"
  } > "$pki/$name.ext"
  openssl x509 -req -in "$pki/$name.csr" -CA "$pki/$ca.crt" -CAkey "$pki/$ca.key" -CAcreateserial \
    -days 30 -extfile "$pki/$name.ext" -out "$pki/$name.crt" 2>/dev/null
  rm -f "$pki/$name.csr" "$pki/$name.ext"
}

new_ca serving-ca syncflow-dev-serving-ca
new_ca front-proxy-ca syncflow-dev-front-proxy-ca
new_ca client-ca syncflow-dev-client-ca
new_ca syncflow-ca syncflow-dev-syncflow-ca
new_ca webhook-client-ca syncflow-dev-webhook-client-ca

new_cert apiserver serving-ca "/CN=kube-apiserver" serverAuth \
  "IP:127.0.0.1,DNS:localhost,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
new_cert front-proxy-client front-proxy-ca "/CN=front-proxy-client" clientAuth
new_cert admin client-ca "/O=system:masters/CN=syncflow-dev-admin" clientAuth
# The identity a syncflow Deployment would have (its ServiceAccount), so the same RBAC applies in dev.
new_cert syncflow-server client-ca \
  "/O=system:serviceaccounts/O=system:serviceaccounts:syncflow-system/CN=system:serviceaccount:syncflow-system:syncflow" clientAuth
new_cert webhook-client webhook-client-ca "/CN=kube-apiserver-webhook-client" clientAuth
new_cert syncflow-serving syncflow-ca "/CN=syncflow.syncflow-system.svc" serverAuth \
  "DNS:syncflow.syncflow-system.svc,DNS:syncflow.syncflow-system.svc.cluster.local,DNS:localhost,IP:127.0.0.1"

openssl ecparam -name prime256v1 -genkey -noout -out "$pki/sa.key" 2>/dev/null
openssl ec -in "$pki/sa.key" -pubout -out "$pki/sa.pub" 2>/dev/null
rm -f "$pki"/*.srl
