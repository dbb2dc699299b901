package readme

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestObserverSnippetRuns: the Observability snippet's config is accepted
// by New, and its Request func counts a 401 refusal (a request without
// token, which needs no key).
func TestObserverSnippetRuns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the snippet's issuer is not reached
	var refusals atomic.Int64
	v, err := observerSnippet(ctx, &refusals)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	v.Authenticate(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if n := refusals.Load(); n != 1 {
		t.Errorf("%d refusals counted, want 1", n)
	}
}
