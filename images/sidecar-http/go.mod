// sidecar-http: the interception and egress-logger sidecars of the built-in
// templates. Standard library only, so the image holds one static binary.
module sidecar-injector/sidecar-http

go 1.26.0
