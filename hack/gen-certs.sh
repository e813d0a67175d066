#!/usr/bin/env bash
# One-shot serving certificate for clusters without cert-manager (docs/install.md, "Certificates").
# Makes a private CA and a serving certificate for the Service syncflow.<namespace>.svc (ECDSA P-256,
# openssl), stores them in Secret <namespace>/syncflow-serving-cert (tls.crt, tls.key, ca.crt) and
# writes the CA into the caBundle of APIService v1alpha1.execution.syncflow.io and of the webhooks
# of ValidatingWebhookConfiguration syncflow. Run it after `kubectl apply -k manifests/overlays/...`
# and again before the certificate expires (the server reloads the Secret's files without restart).
# Nothing is written to the repository; the CA key is deleted unless --out keeps it.
#
#   hack/gen-certs.sh [--namespace syncflow-system] [--days 365] [--out DIR] [--kubectl kubectl]
set -euo pipefail

namespace=syncflow-system days=365 out="" kubectl="${KUBECTL:-kubectl}"
while (($#)); do
  case "$1" in
    --namespace) namespace="${2:?--namespace needs a value}"; shift 2 ;;
    --days) days="${2:?--days needs a value}"; shift 2 ;;
    --out) out="${2:?--out needs a directory}"; shift 2 ;;
    --kubectl) kubectl="${2:?--kubectl needs a path}"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "gen-certs: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$days" =~ ^[0-9]+$ ]] || { echo "gen-certs: --days must be a number" >&2; exit 2; }
command -v openssl > /dev/null || { echo "gen-certs: openssl is required" >&2; exit 1; }
log() { echo "gen-certs: $*" >&2; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
service="syncflow.$namespace.svc"

openssl ecparam -name prime256v1 -genkey -noout -out "$work/ca.key" 2> /dev/null
openssl req -x509 -new -key "$work/ca.key" -sha256 -days "$days" -subj "/CN=syncflow-ca" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out "$work/ca.crt" 2> /dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$work/tls.key" 2> /dev/null
openssl req -new -key "$work/tls.key" -subj "/CN=$service" -out "$work/tls.csr" 2> /dev/null
cat > "$work/ext.cnf" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:$service,DNS:$service.cluster.local,DNS:syncflow.$namespace
EXT
openssl x509 -req -in "$work/tls.csr" -CA "$work/ca.crt" -CAkey "$work/ca.key" -CAcreateserial \
  -days "$days" -sha256 -extfile "$work/ext.cnf" -out "$work/tls.crt" 2> /dev/null
openssl verify -CAfile "$work/ca.crt" "$work/tls.crt" > /dev/null
log "serving certificate for $service, valid $days days"

if [[ -n "$out" ]]; then
  mkdir -p "$out" && chmod 700 "$out"
  cp "$work/ca.crt" "$work/ca.key" "$work/tls.crt" "$work/tls.key" "$out/"
  log "copies in $out (keep ca.key secret, or delete it)"
fi

# create --dry-run | apply: creates the Secret or replaces its data (a renewal).
"$kubectl" -n "$namespace" create secret generic syncflow-serving-cert --type=kubernetes.io/tls \
  --from-file=tls.crt="$work/tls.crt" --from-file=tls.key="$work/tls.key" --from-file=ca.crt="$work/ca.crt" \
  --dry-run=client -o yaml \
  | "$kubectl" apply --server-side --field-manager=syncflow-gen-certs --force-conflicts -f - > /dev/null
log "Secret $namespace/syncflow-serving-cert written"

ca_bundle="$(base64 < "$work/ca.crt" | tr -d '\n')"
"$kubectl" patch apiservice v1alpha1.execution.syncflow.io --type=merge \
  -p "{\"spec\":{\"caBundle\":\"$ca_bundle\"}}" > /dev/null
log "caBundle of APIService v1alpha1.execution.syncflow.io set"
count="$("$kubectl" get validatingwebhookconfiguration syncflow -o jsonpath='{range .webhooks[*]}x{end}')"
patch="["
for ((i = 0; i < ${#count}; i++)); do
  patch+="{\"op\":\"add\",\"path\":\"/webhooks/$i/clientConfig/caBundle\",\"value\":\"$ca_bundle\"},"
done
patch="${patch%,}]"
"$kubectl" patch validatingwebhookconfiguration syncflow --type=json -p "$patch" > /dev/null
log "caBundle of ValidatingWebhookConfiguration syncflow set (${#count} webhooks)"
