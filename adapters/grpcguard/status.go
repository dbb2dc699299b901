package grpcguard

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/bearerguard/bearerguard/middleware"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"
)

// ErrorDomain is the Domain of the errdetails.ErrorInfo of a refusal;
// its Reason is the RFC 6750 §3.1 error code.
const ErrorDomain = "bearerguard"

// Code returns the gRPC code of a refusal of HTTP status httpStatus:
// Unauthenticated for 401, PermissionDenied for 403, InvalidArgument for
// 400 and Unavailable for 503 (codes.Unknown for any other).
func Code(httpStatus int) codes.Code {
	switch httpStatus {
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusBadRequest:
		return codes.InvalidArgument
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	}
	return codes.Unknown
}

// refusal is the error of a refused call: the core's *Error, with the
// status sent to the client.
type refusal struct {
	e  *middleware.Error
	st *status.Status
}

// Error returns the core error's text, for server logs; the client gets
// the status.
func (r *refusal) Error() string { return r.e.Error() }

// Unwrap returns the core's *Error, so errors.Is sees its sentinels.
func (r *refusal) Unwrap() error { return r.e }

// GRPCStatus is the status sent to the client.
func (r *refusal) GRPCStatus() *status.Status { return r.st }

// refuse sets the trailers of e on the call of ctx and returns its error.
func (g *Guard) refuse(ctx context.Context, e *middleware.Error) error {
	h := make(http.Header, 4)
	g.v.SetHeaders(h, e)
	md := metadata.MD{}
	for _, k := range [...]string{"WWW-Authenticate", "DPoP-Nonce", "Retry-After"} {
		if v := h.Get(k); v != "" {
			md.Set(k, v) // lowercased, as gRPC metadata keys are
		}
	}
	_ = grpc.SetTrailer(ctx, md)
	return &refusal{e: e, st: refusalStatus(e, h.Get("Retry-After"))}
}

// refusalStatus is the status of e (see [Guard.Check]); retryAfter is the
// Retry-After the core sets for it (whole seconds), "" if none.
func refusalStatus(e *middleware.Error, retryAfter string) *status.Status {
	b := e.Body()
	info := &errdetails.ErrorInfo{Reason: b.Error, Domain: ErrorDomain}
	meta := map[string]string{}
	for k, v := range map[string]string{"scope": e.Scope, "claim": e.Claim, "claim_values": e.ClaimValues, "acr_values": e.ACRValues} {
		if v != "" {
			meta[k] = v
		}
	}
	if e.MaxAge > 0 {
		meta["max_age"] = strconv.FormatInt(int64(e.MaxAge/time.Second), 10)
	}
	if len(meta) > 0 {
		info.Metadata = meta
	}
	st := status.New(Code(e.Status), e.Description)
	details := []protoadapt.MessageV1{info}
	if secs, err := strconv.Atoi(retryAfter); err == nil {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(time.Duration(secs) * time.Second)})
	}
	if ds, err := st.WithDetails(details...); err == nil {
		st = ds
	}
	return st
}
