// Command capsule-chart renders Capsule's own Helm chart the way `helm template` does, with
// Helm's chart loader and template engine, and prints it as JSON for the e2e harness:
//
//	capsule-chart -chart DIR -values FILE -release NAME -namespace NS
//
// prints {"templates": {path: manifest}, "crds": {path: manifest}}. The harness takes the
// chart's CapsuleConfiguration and webhook configurations from "templates" and the CRDs from
// "crds", so what the e2e cluster registers is what the chart installs on a real one.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
)

func main() {
	chartDir := flag.String("chart", "", "the chart's folder")
	valuesFile := flag.String("values", "", "a values file (YAML or JSON)")
	release := flag.String("release", "capsule", "release name")
	namespace := flag.String("namespace", "capsule-system", "release namespace")
	flag.Parse()
	if err := render(*chartDir, *valuesFile, *release, *namespace); err != nil {
		fmt.Fprintln(os.Stderr, "capsule-chart:", err)
		os.Exit(1)
	}
}

func render(chartDir, valuesFile, release, namespace string) error {
	chart, err := loader.Load(chartDir)
	if err != nil {
		return err
	}
	values := chartutil.Values{}
	if valuesFile != "" {
		if values, err = chartutil.ReadValuesFile(valuesFile); err != nil {
			return err
		}
	}
	options := chartutil.ReleaseOptions{Name: release, Namespace: namespace, Revision: 1, IsInstall: true}
	top, err := chartutil.ToRenderValues(chart, values, options, chartutil.DefaultCapabilities)
	if err != nil {
		return err
	}
	rendered, err := engine.Render(chart, top)
	if err != nil {
		return err
	}
	out := map[string]map[string]string{"templates": {}, "crds": {}}
	for path, manifest := range rendered {
		// Like `helm template`: templates that render to nothing, and NOTES.txt, are not manifests.
		if strings.TrimSpace(manifest) == "" || strings.HasSuffix(path, "NOTES.txt") {
			continue
		}
		out["templates"][path] = manifest
	}
	for _, crd := range chart.CRDObjects() {
		out["crds"][crd.Filename] = string(crd.File.Data)
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", " ")
	return encoder.Encode(out)
}
