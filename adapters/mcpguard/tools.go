package mcpguard

import (
	"context"

	"github.com/bearerguard/bearerguard/middleware"
	"github.com/bearerguard/bearerguard/scopes"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// RequireToolScope wraps a tool handler so that it runs only for a token
// granted one of the alternatives, each a space-separated list of scopes
// that are all required, as [middleware.Validator.RequireScope]:
//
//	mcp.AddTool(server, &mcp.Tool{Name: "add_note"}, mcpguard.RequireToolScope(addNote, "notes:write"))
//
// A call without the scope gets a tool error (CallToolResult.IsError), not
// an HTTP status: by the time a tool runs, the SDK has parsed the JSON-RPC
// request and may have started its answer. The error matches
// [middleware.ErrInsufficientScope]; as a [*middleware.Error] its Scope is
// the scope that would do. Scopes every call to the endpoint needs belong
// in [Guard.RequireScope], which answers 403 with the challenge clients use
// to ask for more scope. RequireToolScope panics if an alternative is
// invalid, when the tool is registered.
func RequireToolScope[In, Out any](h mcp.ToolHandlerFor[In, Out], alternatives ...string) mcp.ToolHandlerFor[In, Out] {
	req := scopes.MustRequirement(alternatives...)
	return func(ctx context.Context, r *mcp.CallToolRequest, in In) (*mcp.CallToolResult, Out, error) {
		if err := check(r, req); err != nil {
			var zero Out
			return nil, zero, err
		}
		return h(ctx, r, in)
	}
}

// CheckScope returns nil if the token of the request r, a tool call or any
// other request an MCP server receives, was granted one of the
// alternatives, and otherwise an error that matches
// [middleware.ErrInsufficientScope] (or [middleware.ErrNoToken] if the
// request came without a token), for handlers that decide on scopes as
// they go. An invalid alternative is returned as an error too. A tool
// handler returns the error to refuse with a tool error.
func CheckScope(r mcp.Request, alternatives ...string) error {
	req, err := scopes.NewRequirement(alternatives...)
	if err != nil {
		return err
	}
	return check(r, req)
}

func check(r mcp.Request, req scopes.Requirement) error {
	var granted []string
	if extra := r.GetExtra(); extra != nil && extra.TokenInfo != nil {
		granted = extra.TokenInfo.Scopes
	} else {
		return toolRefusal{middleware.NewError(middleware.ErrNoToken, "", nil)}
	}
	if req.Allows(granted) {
		return nil
	}
	e := middleware.NewError(middleware.ErrInsufficientScope, "", nil)
	e.Scope = req.Challenge()
	return toolRefusal{e}
}

// toolRefusal is a refused tool call. Its text goes to the client and the
// model as the tool error: the RFC 6750 code, the fixed description and
// the scope that would do.
type toolRefusal struct{ e *middleware.Error }

func (t toolRefusal) Error() string {
	s := t.e.Body().Error + ": " + t.e.Description
	if t.e.Scope != "" {
		s += ` (scope "` + t.e.Scope + `")`
	}
	return s
}

func (t toolRefusal) Unwrap() error { return t.e }
