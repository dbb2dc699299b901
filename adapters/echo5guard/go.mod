module github.com/bearerguard/bearerguard/adapters/echo5guard

go 1.26.0

require (
	github.com/bearerguard/bearerguard v0.1.0
	github.com/labstack/echo/v5 v5.4.6
	go.uber.org/goleak v1.3.0
)

require (
	github.com/MicahParks/jwkset v0.11.4 // indirect
	github.com/golang-jwt/jwt/v5 v5.3.1 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)
