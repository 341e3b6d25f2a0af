// Command vexcheck reads OpenVEX documents with the OpenVEX project's own Go library
// (github.com/openvex/go-vex, the one scanners such as grype use), validates every statement,
// and says which statements a scanner would apply to a vulnerability in a product.
// sccheck's tests use it to judge the OpenVEX that sccheck attests.
//
//	vexcheck FILE [VULNERABILITY PRODUCT SUBCOMPONENT]...
//
// It prints one JSON object: the number of statements, the validation errors, and for each
// query triple the statuses of the matching statements.
package main

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/openvex/go-vex/pkg/vex"
)

type match struct {
	Vulnerability string   `json:"vulnerability"`
	Product       string   `json:"product"`
	Subcomponent  string   `json:"subcomponent"`
	Statuses      []string `json:"statuses"`
}

type report struct {
	Statements int      `json:"statements"`
	Errors     []string `json:"errors"`
	Matches    []match  `json:"matches"`
}

func main() {
	if len(os.Args) < 2 || (len(os.Args)-2)%3 != 0 {
		fmt.Fprintln(os.Stderr, "usage: vexcheck FILE [VULNERABILITY PRODUCT SUBCOMPONENT]...")
		os.Exit(2)
	}
	doc, err := vex.Load(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "vexcheck: %v\n", err)
		os.Exit(1)
	}
	out := report{Statements: len(doc.Statements), Errors: []string{}, Matches: []match{}}
	if len(doc.Statements) == 0 {
		out.Errors = append(out.Errors, "the document has no statements (OpenVEX requires at least one)")
	}
	for i := range doc.Statements {
		if err := doc.Statements[i].Validate(); err != nil {
			out.Errors = append(out.Errors, fmt.Sprintf("statement %d: %v", i, err))
		}
	}
	for q := 2; q+2 < len(os.Args); q += 3 {
		m := match{Vulnerability: os.Args[q], Product: os.Args[q+1], Subcomponent: os.Args[q+2], Statuses: []string{}}
		var subs []string
		if m.Subcomponent != "" {
			subs = []string{m.Subcomponent}
		}
		for _, s := range doc.Matches(m.Vulnerability, m.Product, subs) {
			m.Statuses = append(m.Statuses, string(s.Status))
		}
		out.Matches = append(out.Matches, m)
	}
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		os.Exit(1)
	}
}
