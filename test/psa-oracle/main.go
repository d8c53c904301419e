// psa-oracle evaluates pods with the upstream Pod Security admission library
// (k8s.io/pod-security-admission), the code the API server runs, so the
// policy pack's Pod Security verdicts can be compared with it.
//
// Input: one JSON object per line, {"metadata": ObjectMeta, "spec": PodSpec}.
// Output: one JSON object per line, {"allowed": bool, "reasons": [...]}.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

type pod struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     corev1.PodSpec    `json:"spec"`
}

type verdict struct {
	Allowed bool     `json:"allowed"`
	Reasons []string `json:"reasons"`
	Details []string `json:"details"`
	Error   string   `json:"error,omitempty"`
}

func main() {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	level := api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var p pod
		if err := json.Unmarshal(in.Bytes(), &p); err != nil {
			_ = out.Encode(verdict{Error: err.Error()})
			continue
		}
		agg := policy.AggregateCheckResults(evaluator.EvaluatePod(level, &p.Metadata, &p.Spec))
		v := verdict{Allowed: agg.Allowed, Reasons: agg.ForbiddenReasons, Details: agg.ForbiddenDetails}
		if v.Reasons == nil {
			v.Reasons = []string{}
		}
		_ = out.Encode(v)
	}
}
