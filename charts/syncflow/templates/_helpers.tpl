{{/* Hand-written helpers of the chart (the object templates are generated from manifests/). */}}

{{/* Labels of every object: Helm's recommended labels and the part-of label manifests/ sets. */}}
{{- define "syncflow.labels" -}}
app.kubernetes.io/name: syncflow
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: syncflow
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The Secret with the serving certificate (tls.crt, tls.key; ca.crt where the chart or cert-manager makes it). */}}
{{- define "syncflow.servingSecretName" -}}
{{- if eq .Values.certificates.mode "provided" -}}
{{- required "certificates.provided.secretName: name the kubernetes.io/tls Secret of the serving certificate (certificates.mode is provided)" .Values.certificates.provided.secretName -}}
{{- else -}}
syncflow-serving-cert
{{- end -}}
{{- end -}}

{{/*
The self-signed CA and serving certificate, made once per render and shared by the Secret, the
APIService and the webhooks. An installed release keeps its Secret's certificate across upgrades
(lookup); delete the Secret and upgrade to rotate it. helm template and client dry-runs, which
cannot look up, make a new one.
*/}}
{{- define "syncflow.selfSigned" -}}
{{- if not (hasKey .Values "selfSignedCertificate") -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace "syncflow-serving-cert" -}}
{{- $data := dig "data" dict ($existing | default dict) -}}
{{- $certs := dict -}}
{{- if and (hasKey $data "ca.crt") (hasKey $data "tls.crt") (hasKey $data "tls.key") -}}
{{- $_ := set $certs "ca" (index $data "ca.crt") -}}
{{- $_ := set $certs "crt" (index $data "tls.crt") -}}
{{- $_ := set $certs "key" (index $data "tls.key") -}}
{{- else -}}
{{- $service := printf "syncflow.%s.svc" .Release.Namespace -}}
{{- $ca := genCA "syncflow-ca" 3650 -}}
{{- $cert := genSignedCert $service nil (list $service (printf "%s.cluster.local" $service) (printf "syncflow.%s" .Release.Namespace)) 3650 $ca -}}
{{- $_ := set $certs "ca" ($ca.Cert | b64enc) -}}
{{- $_ := set $certs "crt" ($cert.Cert | b64enc) -}}
{{- $_ := set $certs "key" ($cert.Key | b64enc) -}}
{{- end -}}
{{- $_ := set .Values "selfSignedCertificate" $certs -}}
{{- end -}}
{{- end -}}

{{/* The caBundle of the APIService and the webhooks (base64 PEM), unless cert-manager injects it. */}}
{{- define "syncflow.caBundle" -}}
{{- if eq .Values.certificates.mode "provided" -}}
{{- required "certificates.provided.caBundle: give the base64 PEM of the CA that signed the serving certificate (certificates.mode is provided)" .Values.certificates.provided.caBundle -}}
{{- else -}}
{{- include "syncflow.selfSigned" . -}}
{{- .Values.selfSignedCertificate.ca -}}
{{- end -}}
{{- end -}}
