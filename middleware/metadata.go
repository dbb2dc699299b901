package middleware

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// WellKnownResourceMetadata is the well-known URI suffix of protected
// resource metadata (RFC 9728 §3).
const WellKnownResourceMetadata = "/.well-known/oauth-protected-resource"

// resourceMetadata is the protected resource metadata document (RFC 9728
// §2), members in the order of the RFC.
type resourceMetadata struct {
	Resource               string   `json:"resource"`
	AuthorizationServers   []string `json:"authorization_servers,omitempty"`
	ScopesSupported        []string `json:"scopes_supported,omitempty"`
	BearerMethodsSupported []string `json:"bearer_methods_supported"`
	ResourceName           string   `json:"resource_name,omitempty"`
	ResourceDocumentation  string   `json:"resource_documentation,omitempty"`
	ResourcePolicyURI      string   `json:"resource_policy_uri,omitempty"`
	ResourceTOSURI         string   `json:"resource_tos_uri,omitempty"`
}

// resourceMeta is what New derives from Config.Resource once: the document,
// its URL and its path. The zero value means no Resource.
type resourceMeta struct {
	doc  []byte
	url  string
	path string
}

// newResourceMeta builds the metadata of a checked Config.
func newResourceMeta(c *Config) resourceMeta {
	if c.Resource == "" {
		return resourceMeta{}
	}
	m := &c.ResourceMetadata
	doc := resourceMetadata{
		Resource:               c.Resource,
		ScopesSupported:        m.ScopesSupported,
		BearerMethodsSupported: []string{"header"},
		ResourceName:           m.ResourceName,
		ResourceDocumentation:  m.ResourceDocumentation,
		ResourcePolicyURI:      m.ResourcePolicyURI,
		ResourceTOSURI:         m.ResourceTOSURI,
	}
	issuers, _ := c.trustedIssuers() // checked by New
	for _, is := range issuers {
		if is.Issuer != "" && !strings.Contains(is.Issuer, TenantPlaceholder) {
			doc.AuthorizationServers = append(doc.AuthorizationServers, is.Issuer)
		}
	}
	if c.AllowFormToken {
		doc.BearerMethodsSupported = append(doc.BearerMethodsSupported, "body")
	}
	if c.AllowQueryToken {
		doc.BearerMethodsSupported = append(doc.BearerMethodsSupported, "query")
	}
	b, err := json.Marshal(doc)
	if err != nil {
		panic("bearerguard: resource metadata: " + err.Error()) // strings and lists of strings always encode
	}
	u, err := url.Parse(c.Resource)
	if err != nil {
		panic("bearerguard: Resource checked by New: " + err.Error())
	}
	// RFC 9728 §3.1: the well-known suffix goes between the host and the
	// path, a path of just "/" dropped; the query stays at the end.
	p := u.EscapedPath()
	if p == "/" {
		p = ""
	}
	path := WellKnownResourceMetadata + p
	mdURL := u.Scheme + "://" + u.Host + path
	if u.RawQuery != "" {
		mdURL += "?" + u.RawQuery
	}
	return resourceMeta{doc: append(b, '\n'), url: mdURL, path: path}
}

// ResourceMetadataURL returns the URL of the protected resource metadata
// of Config.Resource (RFC 9728 §3.1): "https://api.example.com/mcp" has
// "https://api.example.com/.well-known/oauth-protected-resource/mcp". It
// is the resource_metadata attribute of the validator's challenges
// (§5.1). It returns "" when Config.Resource is empty.
func (v *Validator) ResourceMetadataURL() string { return v.meta.url }

// ResourceMetadataPath returns the path of [Validator.ResourceMetadataURL],
// where [Validator.ResourceMetadataHandler] is to be mounted: it is
// [WellKnownResourceMetadata] followed by the path of Config.Resource. It
// returns "" when Config.Resource is empty.
func (v *Validator) ResourceMetadataPath() string { return v.meta.path }

// ResourceMetadataHandler returns a handler that serves the protected
// resource metadata document (RFC 9728 §2, §3.2) of Config.Resource, to be
// mounted at [Validator.ResourceMetadataPath]:
//
//	mux.Handle(v.ResourceMetadataPath(), v.ResourceMetadataHandler())
//
// The document has "resource", "authorization_servers" (Config.Issuer and
// ExtraIssuers), "bearer_methods_supported" ("header", plus "body" and
// "query" when Config.AllowFormToken and AllowQueryToken are set), and the
// members of Config.ResourceMetadata that are set. It is public: the
// handler answers GET and HEAD with it as application/json, cacheable for
// an hour and readable cross-origin (Access-Control-Allow-Origin: *), and
// other methods with 405. With Config.Resource empty it answers 404.
func (v *Validator) ResourceMetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v.meta.doc == nil {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusOK)
			return
		}
		_, _ = w.Write(v.meta.doc)
	})
}
