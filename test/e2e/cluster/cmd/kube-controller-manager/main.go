// kube-controller-manager, built from k8s.io/kubernetes exactly like upstream's
// cmd/kube-controller-manager/controller-manager.go. Needed so Deployments,
// Jobs etc. actually produce Pods and namespaces get their default ServiceAccount.
package main

import (
	"os"
	_ "time/tzdata" // CronJob time zone support, as upstream

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // --logging-format=json
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client-go metrics
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
