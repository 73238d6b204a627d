{{/* Names, labels and the checks every template shares. */}}

{{- define "fte.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* "<release>-<chart>", or the release name alone when it already contains the chart name. */}}
{{- define "fte.fullname" -}}
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

{{- define "fte.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fte.labels" -}}
helm.sh/chart: {{ include "fte.chart" . }}
app.kubernetes.io/name: {{ include "fte.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component (operator, odoo, postgresql, backup). */}}
{{- define "fte.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fte.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "fte.componentLabels" -}}
{{ include "fte.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "fte.operatorName" -}}
{{- printf "%s-operator" (include "fte.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "fte.serviceAccountName" -}}
{{- default (include "fte.operatorName" .) .Values.serviceAccount.name }}
{{- end }}

{{- define "fte.leaseName" -}}
{{- default (include "fte.operatorName" .) .Values.operator.leaseName }}
{{- end }}

{{- define "fte.vaultName" -}}
{{- default (include "fte.fullname" .) .Values.vault.name }}
{{- end }}

{{- define "fte.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository $tag }}
{{- end }}
{{- end }}

{{- define "fte.vaultTokenSecret" -}}
{{- default (printf "%s-vault-token" (include "fte.fullname" .)) .Values.vaultToken.existingSecret }}
{{- end }}

{{/* "ssh" or "https", from vault.url; fails with a message naming the values to set. */}}
{{- define "fte.gitTransport" -}}
{{- $url := required "vault.url is required: the git remote of the vault (git@host:owner/vault.git or https://host/owner/vault.git)" .Values.vault.url }}
{{- if hasPrefix "https://" $url }}
{{- if not .Values.git.http.existingSecret }}
{{- fail "vault.url is an https URL: set git.http.existingSecret to a Secret holding the Authorization header (key git.http.key)" }}
{{- end }}
{{- if .Values.git.sshKey.existingSecret }}
{{- fail "vault.url is an https URL: git.sshKey.existingSecret would never be used; unset it" }}
{{- end }}
{{- print "https" }}
{{- else }}
{{- if not .Values.git.sshKey.existingSecret }}
{{- fail "vault.url is an ssh URL: set git.sshKey.existingSecret to the Secret holding the deploy key" }}
{{- end }}
{{- if not .Values.git.knownHosts }}
{{- fail "vault.url is an ssh URL: set git.knownHosts to the git host's keys (ssh-keyscan <host>)" }}
{{- end }}
{{- if .Values.git.http.existingSecret }}
{{- fail "vault.url is an ssh URL: git.http.existingSecret would never be used; unset it" }}
{{- end }}
{{- print "ssh" }}
{{- end }}
{{- end }}

{{/* Odoo as the operator sees it: the URL (in-cluster Service or odoo.url), or empty for none. */}}
{{- define "fte.odooUrl" -}}
{{- if .Values.odoo.enabled }}
{{- printf "http://%s-odoo:8069" (include "fte.fullname" .) }}
{{- else }}
{{- .Values.odoo.url }}
{{- end }}
{{- end }}

{{/* PostgreSQL connection of Odoo and the backups: host, port, user, Secret and key of the password. */}}
{{- define "fte.db" -}}
{{- if .Values.postgresql.enabled }}
host: {{ printf "%s-postgresql" (include "fte.fullname" .) }}
port: 5432
user: {{ .Values.postgresql.username }}
secret: {{ default (printf "%s-postgresql" (include "fte.fullname" .)) .Values.postgresql.existingSecret }}
key: password
{{- else }}
host: {{ required "odoo.enabled with postgresql.enabled=false needs externalDatabase.host" .Values.externalDatabase.host }}
port: {{ .Values.externalDatabase.port }}
user: {{ .Values.externalDatabase.user }}
secret: {{ required "externalDatabase.existingSecret is required with an external database" .Values.externalDatabase.existingSecret }}
key: {{ .Values.externalDatabase.key }}
{{- end }}
{{- end }}

{{/* The container securityContext every container of the chart runs with. */}}
{{- define "fte.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: [ALL]
{{- end }}

{{/* A random value kept across upgrades: the key of an existing Secret, else a fresh one. */}}
{{- define "fte.keptRandom" -}}
{{- $existing := lookup "v1" "Secret" .namespace .name }}
{{- $kept := dig "data" .key "" $existing }}
{{- if $kept }}
{{- $kept }}
{{- else }}
{{- randAlphaNum 48 | b64enc }}
{{- end }}
{{- end }}

{{/* Environment of the git owner (init container `clone` and sidecar `sync`): HOME and git's credentials. */}}
{{- define "fte.syncEnv" -}}
- name: HOME
  value: /tmp
- name: FTE_LOG_LEVEL
  value: {{ .root.Values.operator.logLevel | quote }}
{{- if eq .transport "ssh" }}
- name: GIT_SSH_COMMAND
  value: ssh -i /etc/fte/git/ssh-privatekey -o UserKnownHostsFile=/etc/fte/git/known_hosts -o IdentitiesOnly=yes
{{- else }}
# The header reaches git through its environment and is never written to disk.
- name: GIT_CONFIG_COUNT
  value: "1"
- name: GIT_CONFIG_KEY_0
  value: http.extraHeader
- name: GIT_CONFIG_VALUE_0
  valueFrom:
    secretKeyRef:
      name: {{ .root.Values.git.http.existingSecret }}
      key: {{ .root.Values.git.http.key }}
{{- end }}
{{- end }}

{{- define "fte.syncMounts" -}}
- {name: data, mountPath: /data}
- {name: sync-tmp, mountPath: /tmp}
{{- if eq .transport "ssh" }}
- {name: git, mountPath: /etc/fte/git, readOnly: true}
{{- end }}
{{- end }}

{{/* The status page's Secret (statusPage.auth.existingSecret); fails with what to set. Call only when enabled. */}}
{{- define "fte.statusPageSecret" -}}
{{- $page := .Values.statusPage }}
{{- if not $page.auth.existingSecret }}
{{- fail "statusPage.enabled: set statusPage.auth.existingSecret to a Secret with key passwordHash (fte ui hash-password) and/or token (at least 32 characters); the page never listens in the pod without a password or token" }}
{{- end }}
{{- if or (eq (int $page.port) (int .Values.operator.port)) (eq (int $page.port) (int .Values.sync.port)) }}
{{- fail "statusPage.port must differ from operator.port and sync.port" }}
{{- end }}
{{- $page.auth.existingSecret }}
{{- end }}

{{/* "true" when the status page is served behind TLS (its Ingress), so its cookie is marked Secure. */}}
{{- define "fte.statusPageTls" -}}
{{- $ing := .Values.statusPage.ingress }}
{{- if and $ing.enabled (or $ing.tls.clusterIssuer $ing.tls.existingSecret) }}true{{ end }}
{{- end }}
