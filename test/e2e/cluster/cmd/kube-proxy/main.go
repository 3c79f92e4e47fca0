// kube-proxy, built from k8s.io/kubernetes exactly like upstream's
// cmd/kube-proxy/proxy.go. Programs Service virtual IPs (e.g. the webhook's
// Service and kubernetes.default) on the e2e node.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	"k8s.io/kubernetes/cmd/kube-proxy/app"
)

func main() {
	os.Exit(cli.Run(app.NewProxyCommand()))
}
