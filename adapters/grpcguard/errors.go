package grpcguard

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

var (
	// ErrNoValidator is returned by [New] without a validator.
	ErrNoValidator = errors.New("grpcguard: no validator")
	// ErrMethodName is returned by [New] for a method name of Config that
	// is not a full method name ("/package.Service/Method") or is both
	// exempt and given a policy.
	ErrMethodName = errors.New("grpcguard: invalid method name")
)

// errNoMethod refuses a call of [Guard.AuthFunc] whose context is not a
// server call's: the policy cannot be known.
var errNoMethod = status.Error(codes.Internal, "grpcguard: no method in the context")
