// Command psacheck is sccheck's test oracle for `harden k8s --check`: it evaluates every
// workload of the YAML files it is given with the upstream Pod Security Admission library at
// the "restricted" level (latest version) and prints one JSON line per workload.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	sigyaml "sigs.k8s.io/yaml"
)

type template struct {
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     corev1.PodSpec    `json:"spec"`
}

type workload struct {
	Kind     string            `json:"kind"`
	Metadata metav1.ObjectMeta `json:"metadata"`
	Spec     struct {
		corev1.PodSpec `json:",inline"`
		Template       *template `json:"template"`
		JobTemplate    *struct {
			Spec struct {
				Template template `json:"template"`
			} `json:"spec"`
		} `json:"jobTemplate"`
	} `json:"spec"`
	Template *template        `json:"template"`
	Items    []json.RawMessage `json:"items"`
}

type result struct {
	File     string   `json:"file"`
	Document int      `json:"document"`
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	Allowed  bool     `json:"allowed"`
	Reasons  []string `json:"reasons"`
}

func pod(w *workload) (*metav1.ObjectMeta, *corev1.PodSpec, bool) {
	switch w.Kind {
	case "Pod":
		return &w.Metadata, &w.Spec.PodSpec, true
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job":
		if w.Spec.Template != nil {
			return &w.Spec.Template.Metadata, &w.Spec.Template.Spec, true
		}
	case "CronJob":
		if w.Spec.JobTemplate != nil {
			t := &w.Spec.JobTemplate.Spec.Template
			return &t.Metadata, &t.Spec, true
		}
	case "PodTemplate":
		if w.Template != nil {
			return &w.Template.Metadata, &w.Template.Spec, true
		}
	}
	return nil, nil, false
}

func main() {
	evaluator, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		panic(err)
	}
	level := api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}
	out := json.NewEncoder(os.Stdout)
	var evaluate func(file string, doc int, raw []byte)
	evaluate = func(file string, doc int, raw []byte) {
		var w workload
		if err := sigyaml.Unmarshal(raw, &w); err != nil {
			fmt.Fprintf(os.Stderr, "%s document %d: %v\n", file, doc, err)
			os.Exit(2)
		}
		if w.Kind == "List" {
			for _, item := range w.Items {
				evaluate(file, doc, item)
			}
			return
		}
		meta, spec, ok := pod(&w)
		if !ok {
			return
		}
		r := result{File: file, Document: doc, Kind: w.Kind, Name: w.Metadata.Name, Allowed: true, Reasons: []string{}}
		for _, check := range evaluator.EvaluatePod(level, meta, spec) {
			if !check.Allowed {
				r.Allowed = false
				r.Reasons = append(r.Reasons, check.ForbiddenReason+": "+check.ForbiddenDetail)
			}
		}
		_ = out.Encode(r)
	}
	for _, file := range os.Args[1:] {
		data, err := os.ReadFile(file)
		if err != nil {
			panic(err)
		}
		reader := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
		for doc := 0; ; doc++ {
			raw, err := reader.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				panic(err)
			}
			if len(bytes.TrimSpace(raw)) > 0 {
				evaluate(file, doc, raw)
			}
		}
	}
}
