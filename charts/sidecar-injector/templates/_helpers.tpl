{{/* Names and labels, the usual chart conventions. */}}
{{- define "sidecar-injector.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "sidecar-injector.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sidecar-injector.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sidecar-injector.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "sidecar-injector.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "sidecar-injector.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "sidecar-injector.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sidecar-injector.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sidecar-injector.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The Secret with tls.crt/tls.key: cert-manager's Certificate writes it, or the user provides it. */}}
{{- define "sidecar-injector.tlsSecretName" -}}
{{- if eq .Values.certificates.mode "provided" }}
{{- required "certificates.provided.secretName is required with certificates.mode=provided" .Values.certificates.provided.secretName }}
{{- else }}
{{- printf "%s-tls" (include "sidecar-injector.fullname" .) }}
{{- end }}
{{- end }}

{{- define "sidecar-injector.serviceHost" -}}
{{- printf "%s.%s.svc" (include "sidecar-injector.fullname" .) .Release.Namespace }}
{{- end }}

{{- define "sidecar-injector.templatesConfigMapName" -}}
{{- printf "%s-templates" (include "sidecar-injector.fullname" .) }}
{{- end }}

{{/* The Secret the replicas share in self-managed mode. */}}
{{- define "sidecar-injector.selfManagedSecretName" -}}
{{- default (printf "%s-certs" (include "sidecar-injector.fullname" .)) .Values.certificates.selfManaged.secretName }}
{{- end }}

{{/* Names of a self-managed certificate: the Service's DNS names, and the host of webhook.url. */}}
{{- define "sidecar-injector.certHosts" -}}
{{- $service := include "sidecar-injector.fullname" . }}
{{- $hosts := list $service (printf "%s.%s" $service .Release.Namespace) (include "sidecar-injector.serviceHost" .) (printf "%s.cluster.local" (include "sidecar-injector.serviceHost" .)) }}
{{- with .Values.webhook.url }}
{{- $hosts = append $hosts (regexReplaceAll "^\\[?([^\\]]*?)\\]?(:[0-9]+)?$" (urlParse .).host "${1}") }}
{{- end }}
{{- join "," $hosts }}
{{- end }}

{{/*
Namespaces the webhook configuration never sends to the webhook, comma-joined:
the control plane's own, the release's (the webhook must never wait for
itself) and webhook.excludeNamespaces. The one list behind the webhooks'
namespaceSelectors and the reconciler's --reconcile-exclude-namespaces, so the
reconciler judges exactly the pods the webhook would have been sent.
*/}}
{{- define "sidecar-injector.excludedNamespaces" -}}
{{- concat (list "kube-system" "kube-node-lease" "kube-public" .Release.Namespace) .Values.webhook.excludeNamespaces | uniq | join "," }}
{{- end }}

{{/* The Lease (in the release namespace) that elects the replica whose reconciler acts. */}}
{{- define "sidecar-injector.reconcilerLeaseName" -}}
{{- printf "%s-reconciler" (include "sidecar-injector.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}
