package grpcguard

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// This file presents a gRPC call to the core as the HTTP/2 request it is
// (gRPC over HTTP/2: POST to /package.Service/Method), so that the core's
// one pipeline, [middleware.Validator.Check], decides calls and requests
// alike:
//
//   - the metadata become the header fields, so the token is read from
//     "authorization" (RFC 6750 §2.1; the Bearer and DPoP schemes, RFC 9449
//     §7.1) under the same rules, and a DPoP proof from "dpop"; gRPC's own
//     entries (content-type, te, user-agent, grpc-*), binary ("-bin") and
//     pseudo-header (":authority") entries are left out;
//   - the method is POST and the path the full method name, the host the
//     call's :authority: a DPoP proof's "htm" must be POST and its "htu"
//     https://<authority>/<package.Service>/<Method>, the convention gRPC
//     clients of DPoP use (Config.DPoP.PublicBaseURL replaces scheme and
//     host, as for HTTP);
//   - the connection's TLS state is the peer's (credentials.TLSInfo), so a
//     certificate-bound token (RFC 8705 §3) is checked against the client
//     certificate of the connection. A call without TLS presents an empty
//     TLS state: no certificate, and the https scheme of the convention
//     (TLS is then terminated before the server).

// newRequest returns the request the core checks for a call of method
// whose server context is ctx.
func newRequest(ctx context.Context, method string) *http.Request {
	md, _ := metadata.FromIncomingContext(ctx)
	h := make(http.Header, len(md))
	var host string
	for k, vals := range md {
		switch {
		case k == ":authority":
			if len(vals) == 1 {
				host = vals[0]
			}
		case k == "authorization":
			h["Authorization"] = vals
		case k == "dpop":
			h["Dpop"] = vals
		case transportKey(k):
		default:
			h[textproto.CanonicalMIMEHeaderKey(k)] = vals
		}
	}
	r := http.Request{
		Method:     http.MethodPost,
		URL:        &url.URL{Path: method},
		RequestURI: method,
		Proto:      "HTTP/2.0",
		ProtoMajor: 2,
		Header:     h,
		Host:       host,
		Body:       http.NoBody,
		TLS:        connectionState(ctx),
	}
	return r.WithContext(ctx)
}

// transportKey reports whether the metadata key k is gRPC's own (the
// transport's headers, which no check reads) or binary or a pseudo-header,
// left out of the request's header.
func transportKey(k string) bool {
	switch k {
	case "content-type", "user-agent", "te":
		return true
	}
	return strings.HasPrefix(k, ":") || strings.HasPrefix(k, "grpc-") || strings.HasSuffix(k, "-bin")
}

// noTLS is the TLS state of a connection without TLS: no certificate. It
// is never modified.
var noTLS = &tls.ConnectionState{}

// connectionState returns the TLS state of the call's connection, or
// noTLS.
func connectionState(ctx context.Context) *tls.ConnectionState {
	if p, ok := peer.FromContext(ctx); ok {
		if info, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			return &info.State
		}
	}
	return noTLS
}
