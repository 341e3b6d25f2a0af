// Command hello is a small HTTP service: the example sccheck builds, signs and promotes.
package main

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/google/uuid"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type greeting struct {
	Message   string `json:"message"`
	RequestID string `json:"request_id"`
	Version   string `json:"version"`
}

func greet(name string) greeting {
	if name == "" {
		name = "world"
	}
	return greeting{
		Message:   fmt.Sprintf("hello, %s", name),
		RequestID: uuid.NewString(),
		Version:   version,
	}
}

func handler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(greet(r.URL.Query().Get("name"))); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println(version)
		return
	}
	addr := os.Getenv("HELLO_ADDR")
	if addr == "" {
		addr = ":8080"
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", handler)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := &http.Server{Addr: addr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	log.Printf("hello %s listening on %s", version, addr)
	log.Fatal(srv.ListenAndServe())
}
