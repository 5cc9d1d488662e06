#!/bin/sh
# Helm post-renderer: puts the jitsi-oidc-sidecar in front of jitsi-helm's web pods.
#   Helm 3: helm upgrade --install myjitsi jitsi/jitsi-meet -f values.yaml --post-renderer ./post-render.sh
#   Helm 4: helm plugin install .   then   --post-renderer jitsi-oidc-sidecar   (plugin.yaml)
# Reads the chart's manifests on standard input, writes them with the sidecar to standard output:
# a kustomization in a temporary folder takes them as its resources and this folder (a
# kustomize Component, kustomization.yaml) as its component. Needs kubectl (or set KUSTOMIZE to
# another command that builds a kustomization folder, e.g. KUSTOMIZE="kustomize build").
set -eu
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd -P)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT HUP INT TERM
tmp=$(CDPATH='' cd -- "$tmp" && pwd -P)
# kustomize takes components by relative path only: from $tmp up to / and down to $here.
up=$(printf '%s\n' "$tmp" | sed 's#[^/][^/]*#..#g; s#^/##')
cat > "$tmp/chart.yaml"
cat > "$tmp/kustomization.yaml" <<KUSTOMIZATION
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - chart.yaml
components:
  - "$up$here"
KUSTOMIZATION
${KUSTOMIZE:-kubectl kustomize} "$tmp"
