package mcpguard_test

import (
	"testing"

	"github.com/bearerguard/bearerguard/internal/snippets"
)

// TestReadme keeps the README's MCP snippets true. They are fenced
// "```go mcpguard" (the root module's README test, which compiles "```go"
// blocks, skips them because the root module does not import the MCP SDK) and
// must appear, line for line, in example_test.go, which this module compiles.
func TestReadme(t *testing.T) {
	snippets.Check(t, "../../README.md", "example_test.go", "mcpguard")
}
