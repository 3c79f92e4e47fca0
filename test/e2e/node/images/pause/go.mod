// The pod sandbox's pause process for the e2e node's registry.k8s.io/pause
// image (see ../build.ts). Standard library only.
module sidecar-injector/e2e-pause

go 1.26.0
