package main

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/google/uuid"
)

func TestGreetDefaultsToWorld(t *testing.T) {
	g := greet("")
	if g.Message != "hello, world" {
		t.Fatalf("message = %q", g.Message)
	}
	if _, err := uuid.Parse(g.RequestID); err != nil {
		t.Fatalf("request id %q is not a uuid: %v", g.RequestID, err)
	}
}

func TestHandlerGreetsByName(t *testing.T) {
	rec := httptest.NewRecorder()
	handler(rec, httptest.NewRequest("GET", "/?name=gopher", nil))
	var g greeting
	if err := json.Unmarshal(rec.Body.Bytes(), &g); err != nil {
		t.Fatal(err)
	}
	if g.Message != "hello, gopher" {
		t.Fatalf("message = %q", g.Message)
	}
}
