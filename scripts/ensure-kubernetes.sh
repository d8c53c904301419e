#!/usr/bin/env bash
# Builds a real Kubernetes control plane and the Pulumi Kubernetes provider
# from their Go modules, once, into a cache outside the clone (recipe and
# measured times: ../shared/reference/local-kubernetes.md):
#   - kube-apiserver, kube-controller-manager, kube-scheduler  k8s.io/kubernetes
#   - etcd                                                     go.etcd.io/etcd/server/v3
#   - kwok, kwokctl (fake nodes; runs the cluster)             sigs.k8s.io/kwok
#   - pulumi-resource-kubernetes                                github.com/pulumi/pulumi-kubernetes/provider/v4
#   - the Gateway API CRDs (standard channel)                  sigs.k8s.io/gateway-api
# Idempotent: a second run finds everything and exits at once. Cold, on two
# cores, about 15 minutes (the provider alone ~6.5).
#   scripts/ensure-kubernetes.sh          build what is missing, print the directory
set -euo pipefail

K8S_VERSION="v1.37.2"
STAGING_VERSION="v0.37.2"
ETCD_VERSION="v3.6.16"
KWOK_VERSION="v0.7.0"
GATEWAY_API_VERSION="v1.6.3"
# The proxy serves the provider only as the pseudo-version of tag v4.25.0's commit.
PROVIDER_VERSION="4.25.0"
PROVIDER_MODULE_VERSION="v4.0.0-20260115033456-f47bc2d6f199"

CACHE="${PD_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/progressive-delivery/tools}"
DIR="$CACHE/kubernetes-$K8S_VERSION-etcd-$ETCD_VERSION-kwok-$KWOK_VERSION-provider-$PROVIDER_VERSION-gw-$GATEWAY_API_VERSION"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler etcd kwok kwokctl pulumi-resource-kubernetes)

complete() {
  for b in "${BINARIES[@]}"; do [ -x "$DIR/bin/$b" ] || return 1; done
  [ -f "$DIR/crds/gateway-api-standard.yaml" ]
}
if complete; then
  echo "$DIR"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-kubernetes: Go is needed to build the control plane and the provider (install Go and retry)" >&2
  exit 1
fi
mkdir -p "$DIR/bin" "$DIR/crds"
work="$(mktemp -d)"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
log() { echo "ensure-kubernetes: $* ($(date +%T))" >&2; }

# Control plane: k8s.io/kubernetes as a dependency of a throwaway module whose replaces point its
# staging modules (./staging/... inside the kubernetes module) at their published versions.
if [ ! -x "$DIR/bin/kube-apiserver" ] || [ ! -x "$DIR/bin/kube-controller-manager" ] || [ ! -x "$DIR/bin/kube-scheduler" ]; then
  log "building kube-apiserver, kube-controller-manager, kube-scheduler $K8S_VERSION (once; ~5 min)"
  mkdir -p "$work/k8s" && cd "$work/k8s"
  go mod init local/kube-build >/dev/null 2>&1
  kmod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",*$/\1/p')"
  {
    echo "require k8s.io/kubernetes $K8S_VERSION"
    grep -E '^[[:space:]]*k8s\.io/[^ ]+ => \./staging/' "$kmod" | awk -v v="$STAGING_VERSION" '{ print "replace " $1 " => " $1 " " v }'
  } >>go.mod
  printf 'package main\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n\t_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"\n\t_ "k8s.io/kubernetes/cmd/kube-scheduler/app"\n)\n\nfunc main() {}\n' >deps.go
  go mod tidy >/dev/null 2>&1
  for c in kube-apiserver kube-controller-manager kube-scheduler; do
    go build -o "$DIR/bin/$c" "k8s.io/kubernetes/cmd/$c"
  done
fi

if [ ! -x "$DIR/bin/etcd" ]; then
  log "building etcd $ETCD_VERSION"
  mkdir -p "$work/etcd" && cd "$work/etcd"
  go mod init local/etcd-build >/dev/null 2>&1
  printf 'package main\n\nimport _ "go.etcd.io/etcd/server/v3/etcdmain"\n\nfunc main() {}\n' >deps.go
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >/dev/null 2>&1
  go mod tidy >/dev/null 2>&1
  go build -o "$DIR/bin/etcd" go.etcd.io/etcd/server/v3
fi

if [ ! -x "$DIR/bin/kwok" ] || [ ! -x "$DIR/bin/kwokctl" ]; then
  log "building kwok and kwokctl $KWOK_VERSION"
  GOBIN="$work/kwok-bin" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION" 2>&1 | { grep -v "^go: downloading" || true; } >&2
  mv "$work/kwok-bin/kwok" "$work/kwok-bin/kwokctl" "$DIR/bin/"
fi

# The provider's module zip lacks the generated schema files main.go embeds: generate them in a writable copy.
if [ ! -x "$DIR/bin/pulumi-resource-kubernetes" ]; then
  log "building pulumi-resource-kubernetes $PROVIDER_VERSION (once; ~7 min)"
  src="$(go mod download -json "github.com/pulumi/pulumi-kubernetes/provider/v4@$PROVIDER_MODULE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  cp -r "$src" "$work/provider" && chmod -R u+w "$work/provider" && cd "$work/provider"
  sed -i '/^replace github.com\/pulumi\/pulumi-kubernetes\/sdk\/v4 => /d' go.mod
  go mod tidy >/dev/null 2>&1
  (cd cmd/pulumi-resource-kubernetes && VERSION="$PROVIDER_VERSION" go run ./generate.go >/dev/null)
  go build -ldflags "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$PROVIDER_VERSION" -o "$DIR/bin/pulumi-resource-kubernetes" ./cmd/pulumi-resource-kubernetes
fi

if [ ! -f "$DIR/crds/gateway-api-standard.yaml" ]; then
  log "Gateway API $GATEWAY_API_VERSION CRDs (standard channel)"
  gw="$(go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  for f in "$gw"/config/crd/standard/*.yaml; do
    cat "$f"
    printf '\n---\n'
  done >"$work/gateway-api-standard.yaml"
  mv "$work/gateway-api-standard.yaml" "$DIR/crds/gateway-api-standard.yaml"
fi

complete || { echo "ensure-kubernetes: incomplete build in $DIR" >&2; exit 1; }
log "ready in $DIR"
echo "$DIR"
