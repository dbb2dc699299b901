package redisstore

// StartRedis is startRedis for the external tests (readme_test.go).
var StartRedis = startRedis
