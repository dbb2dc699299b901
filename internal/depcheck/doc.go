// Package depcheck has no API: its test keeps bearerguard's package
// dependencies pointing one way (STYLE.md, "Package boundaries").
//
//   - scopes and claims import the standard library only;
//   - middleware imports neither Echo nor Gin, nor an adapter or example,
//     and middleware/middlewaretest does not import middleware;
//   - each package under adapters/ imports at most one web framework and no
//     other adapter, and is named after its directory, never echo, gin or
//     middleware, so that applications need no import alias;
//   - the root module does not require the MCP SDK, which only the
//     adapters/mcpguard module (a module of its own) uses.
//
// The tests read the dependency graph with "go list -deps -json" and the
// build list with "go list -m all".
package depcheck
