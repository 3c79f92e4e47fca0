{{/*
Mode (values `mode`): `webhook` runs the Deployment behind the
MutatingWebhookConfiguration; `policy` installs MutatingAdmissionPolicies
only; `both` installs the two during a migration. "true" or "".
*/}}
{{- define "sidecar-injector.runsWebhook" -}}
{{- if ne (include "sidecar-injector.mode" .) "policy" }}true{{ end }}
{{- end }}

{{- define "sidecar-injector.runsPolicies" -}}
{{- if ne (include "sidecar-injector.mode" .) "webhook" }}true{{ end }}
{{- end }}

{{/*
The mode; `webhook` when unset: `helm upgrade --reuse-values` of a release
made by a chart without these keys keeps that chart's defaults, which have none.
*/}}
{{- define "sidecar-injector.mode" -}}
{{- .Values.mode | default "webhook" }}
{{- end }}

{{- define "sidecar-injector.policyManifests" -}}
{{- (.Values.policy | default dict).manifests | default "" }}
{{- end }}

{{/*
The hash scripts/generate-policies.ts records in files/admission-policies.yaml
(policySourceHash): one line per template file, "<file> <sha256 of its
text>", in byte order, then "defaultTemplates <comma-joined list>".
*/}}
{{- define "sidecar-injector.policySourceHash" -}}
{{- $lines := list }}
{{- range $file := keys .Values.sidecarTemplates | sortAlpha }}
{{- $lines = append $lines (printf "%s %s" $file (sha256sum (get $.Values.sidecarTemplates $file))) }}
{{- end }}
{{- $lines = append $lines (printf "defaultTemplates %s" (join "," .Values.config.defaultTemplates)) }}
{{- join "\n" $lines | sha256sum }}
{{- end }}

{{/*
The admission policy objects, as JSON {"objects": [...]}: policy.manifests
(the output of `sidecar-injector policy`, passed with --set-file) or else the
committed compilation of the default templates, which is refused when
sidecarTemplates or config.defaultTemplates differ from what it was compiled
from. In mode policy, the validating policies of config.onProblem report
problems as the webhook would; in mode both the webhook reports them, so
there are none (a problem is reported once). Fails on anything that would not
inject, or report, what the webhook would.
*/}}
{{- define "sidecar-injector.policyObjects" -}}
{{- $mode := include "sidecar-injector.mode" . }}
{{- $manifests := include "sidecar-injector.policyManifests" . }}
{{- $onProblem := .Values.config.onProblem }}
{{- $minimum := "1.36.0-0" }}
{{- if not (semverCompare (printf ">=%s" $minimum) .Capabilities.KubeVersion.Version) }}
{{- fail (printf "mode=%s needs Kubernetes 1.36 or newer (MutatingAdmissionPolicy, admissionregistration.k8s.io/v1); this cluster is %s: use mode=webhook" $mode .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- if not .Values.config.nativeSidecars }}
{{- fail (printf "mode=%s with config.nativeSidecars=false: the policies always inject native sidecars (docs/policy-mode.md); use mode=webhook" $mode) }}
{{- end }}
{{- $objects := list }}
{{- if $manifests }}
{{- $parsed := list }}
{{- range $document := regexSplit "(?m)^---[ \t]*$" $manifests -1 }}
{{- $object := fromYaml $document }}
{{- if hasKey $object "Error" }}
{{- fail (printf "policy.manifests: a document is not a YAML object (%s)" $object.Error) }}
{{- end }}
{{- if $object }}
{{- if not (and (eq (toString $object.apiVersion) "admissionregistration.k8s.io/v1") (has (toString $object.kind) (list "MutatingAdmissionPolicy" "MutatingAdmissionPolicyBinding" "ValidatingAdmissionPolicy" "ValidatingAdmissionPolicyBinding"))) }}
{{- fail (printf "policy.manifests holds a %s %s: only the output of `sidecar-injector policy` (admissionregistration.k8s.io/v1 admission policies and their bindings) belongs there" (toString $object.apiVersion) (toString $object.kind)) }}
{{- end }}
{{- $parsed = append $parsed $object }}
{{- end }}
{{- end }}
{{- $validating := 0 }}
{{- $denies := false }}
{{- range $parsed }}
{{- if eq .kind "ValidatingAdmissionPolicyBinding" }}
{{- $validating = add1 $validating }}
{{- if has "Deny" (.spec.validationActions | default list) }}{{ $denies = true }}{{ end }}
{{- end }}
{{- if or (eq $mode "policy") (hasPrefix "Mutating" .kind) }}
{{- $objects = append $objects . }}
{{- end }}
{{- end }}
{{- if not $objects }}
{{- fail "policy.manifests holds no mutating policy: pass the output of `sidecar-injector policy` (--set-file policy.manifests=FILE)" }}
{{- end }}
{{- if eq $mode "both" }}
{{- /* The webhook serves sidecarTemplates: each policy must be of one of them, at its version. */}}
{{- $versions := dict }}
{{- range $file, $text := .Values.sidecarTemplates }}
{{- range $document := regexSplit "(?m)^---[ \t]*$" $text -1 }}
{{- $template := fromYaml $document }}
{{- if and $template (eq (toString $template.kind) "SidecarTemplate") }}
{{- $_ := set $versions (toString (dig "metadata" "name" "" $template)) (toString (dig "spec" "version" "" $template)) }}
{{- end }}
{{- end }}
{{- end }}
{{- range $objects }}
{{- if eq .kind "MutatingAdmissionPolicy" }}
{{- $name := index (.metadata.labels | default dict) "sidecar.example/template" | default "" }}
{{- $version := index (.metadata.annotations | default dict) "sidecar.example/template-version" | default "" }}
{{- if ne (get $versions $name | default "<none>") $version }}
{{- fail (printf "mode=both: policy.manifests has template %q version %q, sidecarTemplates %s: the policies and the webhook would inject different things; compile policy.manifests from sidecarTemplates" $name $version (ternary (printf "version %q" (get $versions $name)) "has no such template" (hasKey $versions $name))) }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- if and (eq $mode "policy") (or (not $validating) (ne $denies (eq $onProblem "deny"))) }}
{{- fail (printf "mode=policy with config.onProblem=%s: policy.manifests must hold what `sidecar-injector policy --on-problem %s` prints, whose validating policies report problems as the webhook would" $onProblem $onProblem) }}
{{- end }}
{{- else }}
{{- $generated := .Files.Get "files/admission-policies.yaml" | fromYaml }}
{{- if ne (include "sidecar-injector.policySourceHash" .) (toString $generated.sourceHash) }}
{{- fail (printf "mode=%s: sidecarTemplates or config.defaultTemplates differ from the chart's defaults, which are all the chart has compiled to policies (Helm cannot run the compiler). Compile yours and pass them: sidecar-injector policy --templates-dir DIR [--default-templates LIST] --on-problem %s > policies.yaml, then --set-file policy.manifests=policies.yaml (docs/installing.md#policy-mode)" $mode $onProblem) }}
{{- end }}
{{- $objects = $generated.mutating }}
{{- if eq $mode "policy" }}
{{- $objects = concat $objects (get $generated.validating $onProblem) }}
{{- end }}
{{- end }}
{{- dict "objects" $objects | toJson }}
{{- end }}
