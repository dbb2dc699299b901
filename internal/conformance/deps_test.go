package conformance_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestPackageBoundaries keeps the dependency arrows of the style guide:
// scopes and claims use the standard library only, the core knows no
// framework, and each adapter knows only its own. Of internal/, the core
// uses only the JSON scanner, which uses the standard library only.
func TestPackageBoundaries(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	const mod = "github.com/bearerguard/bearerguard/"
	const echo, gin = "github.com/labstack/echo", "github.com/gin-gonic/gin"
	for pkg, forbidden := range map[string][]string{
		"scopes":             {mod, echo, gin},
		"claims":             {mod, echo, gin},
		"internal/jsonscan":  {mod, echo, gin},
		"middleware":         {mod + "adapters", mod + "internal", echo, gin},
		"adapters/echoguard": {mod + "adapters/ginguard", mod + "internal", gin},
		"adapters/ginguard":  {mod + "adapters/echoguard", mod + "internal", echo},
	} {
		out, err := exec.Command(goTool, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", mod+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps %s: %v", pkg, err)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == mod+pkg || dep == mod+"internal/jsonscan" {
				continue
			}
			for _, f := range forbidden {
				if strings.HasPrefix(dep, f) {
					t.Errorf("%s depends on %s", pkg, dep)
				}
			}
		}
	}
}
