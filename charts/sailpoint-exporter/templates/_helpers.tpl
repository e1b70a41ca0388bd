{{/*
Name of the chart, or nameOverride.
*/}}
{{- define "sailpoint-exporter.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified name: the release name, followed by the chart name unless the release name
already contains it; at most 63 characters (a DNS label).
*/}}
{{- define "sailpoint-exporter.fullname" -}}
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

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "sailpoint-exporter.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object.
*/}}
{{- define "sailpoint-exporter.labels" -}}
helm.sh/chart: {{ include "sailpoint-exporter.chart" . }}
{{ include "sailpoint-exporter.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: exporter
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Labels that select the pod.
*/}}
{{- define "sailpoint-exporter.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sailpoint-exporter.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the ServiceAccount.
*/}}
{{- define "sailpoint-exporter.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sailpoint-exporter.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: repository:tag, or repository@digest.
*/}}
{{- define "sailpoint-exporter.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Name of the Secret that holds the client secret: the existing one, or the chart's.
*/}}
{{- define "sailpoint-exporter.secretName" -}}
{{- .Values.isc.existingSecret.name | default (include "sailpoint-exporter.fullname" .) }}
{{- end }}

{{/*
Key of the client secret in that Secret.
*/}}
{{- define "sailpoint-exporter.secretKey" -}}
{{- if .Values.isc.existingSecret.name }}
{{- required "isc.existingSecret.clientSecretKey must name the key of the client secret" .Values.isc.existingSecret.clientSecretKey }}
{{- else -}}
client-secret
{{- end }}
{{- end }}

{{/*
Paths in the container. The client secret, the web configuration and the TLS files are
read-only mounts; the checkpoint directory is the one writable path.
*/}}
{{- define "sailpoint-exporter.secretDir" -}}/etc/sailpoint-exporter/secret{{- end }}
{{- define "sailpoint-exporter.secretFile" -}}{{ include "sailpoint-exporter.secretDir" . }}/client-secret{{- end }}
{{- define "sailpoint-exporter.webConfigDir" -}}/etc/sailpoint-exporter/web{{- end }}
{{- define "sailpoint-exporter.webConfigFile" -}}{{ include "sailpoint-exporter.webConfigDir" . }}/web-config.yml{{- end }}
{{- define "sailpoint-exporter.tlsDir" -}}/etc/sailpoint-exporter/tls{{- end }}
{{- define "sailpoint-exporter.stateFile" -}}{{ .Values.persistence.mountPath | trimSuffix "/" }}/sailpoint_exporter.state{{- end }}

{{/*
"true" when the web configuration serves TLS.
*/}}
{{- define "sailpoint-exporter.tls" -}}
{{- if .Values.webConfig.config.tls_server_config }}true{{ end }}
{{- end }}

{{/*
"true" when the kubelet could not pass an HTTP check: basic auth, or a required client
certificate. The probes are then TCP checks.
*/}}
{{- define "sailpoint-exporter.probesNeedTCP" -}}
{{- $tls := .Values.webConfig.config.tls_server_config | default dict }}
{{- if or .Values.webConfig.config.basic_auth_users (has ($tls.client_auth_type | default "") (list "RequireAnyClientCert" "RequireAndVerifyClientCert")) }}true{{ end }}
{{- end }}

{{/*
A probe's check: HTTP(S) GET of the path given, or a TCP connect when HTTP cannot pass.
Called with (list $ "/-/healthy").
*/}}
{{- define "sailpoint-exporter.probeCheck" -}}
{{- $ := index . 0 }}
{{- if include "sailpoint-exporter.probesNeedTCP" $ }}
tcpSocket:
  port: http
{{- else }}
httpGet:
  path: {{ index . 1 }}
  port: http
  scheme: {{ if include "sailpoint-exporter.tls" $ }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}
{{- end }}

{{/*
The provisioning SLO target as the rules and dashboards write it, and the text that replaces
the shipped `(1 - 0.99)` there. Empty when the target is the shipped one.
*/}}
{{- define "sailpoint-exporter.sloReplacement" -}}
{{- $t := .Values.prometheusRule.provisioningSLOTarget }}
{{- if or (le (float64 $t) 0.0) (ge (float64 $t) 1.0) }}
{{- fail (printf "prometheusRule.provisioningSLOTarget must be between 0 and 1 (0.99 = 99%%), not %v" $t) }}
{{- end }}
{{- if ne (toString $t) "0.99" }}(1 - {{ $t }}){{ end }}
{{- end }}

{{/*
Several tenants (tenants not empty): one exporter reads every tenant of tenants from the
configuration file the chart renders into a ConfigMap (--config.file), each tenant's client
secret from its own Secret, mounted as a file, and keeps each tenant's state file in the one
state volume.
*/}}
{{- define "sailpoint-exporter.configDir" -}}/etc/sailpoint-exporter/config{{- end }}
{{- define "sailpoint-exporter.configFile" -}}{{ include "sailpoint-exporter.configDir" . }}/tenants.yml{{- end }}
{{- define "sailpoint-exporter.tenantSecretsDir" -}}/etc/sailpoint-exporter/tenants{{- end }}

{{/*
The client secret file of a tenant, called with (list $ $tenant).
*/}}
{{- define "sailpoint-exporter.tenantSecretFile" -}}
{{- $ := index . 0 }}{{- $t := index . 1 -}}
{{ include "sailpoint-exporter.tenantSecretsDir" $ }}/{{ $t.name }}/client-secret
{{- end }}

{{/*
The state file of a tenant in the state volume, called with (list $ $tenant).
*/}}
{{- define "sailpoint-exporter.tenantStateFile" -}}
{{- $ := index . 0 }}{{- $t := index . 1 -}}
{{ $.Values.persistence.mountPath | trimSuffix "/" }}/{{ $t.stateFileName | default (printf "%s.state" $t.name) }}
{{- end }}

{{/*
The configuration file of the tenants, as the exporter reads it (--config.file). Settings are
the per-tenant flags' names (activities.refresh-interval: 30s): tenantDefaults under
defaults:, a tenant's settings in its entry. Also refuses what the exporter would refuse
beside a configuration file, with the value to change.
*/}}
{{- define "sailpoint-exporter.configFileContent" -}}
{{- $names := dict }}
{{- $stateFiles := dict }}
{{- range $i, $t := .Values.tenants }}
{{- if hasKey $names $t.name }}
{{- fail (printf "tenants[%d].name: %q is the name of tenants[%v] too: each tenant needs its own name, the value of its tenant label" $i $t.name (get $names $t.name)) }}
{{- end }}
{{- $_ := set $names $t.name $i }}
{{- $state := include "sailpoint-exporter.tenantStateFile" (list $ $t) }}
{{- if hasKey $stateFiles $state }}
{{- fail (printf "tenants[%d]: its state file %s is tenants[%v]'s too: set another stateFileName" $i $state (get $stateFiles $state)) }}
{{- end }}
{{- $_ := set $stateFiles $state $i }}
{{- end -}}
# The tenants of this exporter, rendered by the sailpoint-exporter chart from its values
# tenants and tenantDefaults. Check a copy with: sailpoint_exporter --config.check --config.file=FILE
{{- with .Values.tenantDefaults }}
defaults:
  {{- toYaml . | nindent 2 }}
{{- end }}
tenants:
{{- range .Values.tenants }}
  - name: {{ .name | quote }}
    url: {{ .url | quote }}
    client_id: {{ .clientId | toString | quote }}
    client_secret_file: {{ include "sailpoint-exporter.tenantSecretFile" (list $ .) | quote }}
    {{- with .tokenUrl }}
    token_url: {{ . | quote }}
    {{- end }}
    state_file: {{ include "sailpoint-exporter.tenantStateFile" (list $ .) | quote }}
    {{- with .settings }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end }}
{{- end }}

{{/*
Name of the ConfigMap of the tenants' configuration file.
*/}}
{{- define "sailpoint-exporter.configMapName" -}}
{{ include "sailpoint-exporter.fullname" . | trunc 56 | trimSuffix "-" }}-config
{{- end }}
