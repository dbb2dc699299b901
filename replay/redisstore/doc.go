// Package redisstore is a DPoP replay store (RFC 9449 section 11.1) kept in
// Redis, for APIs that run as several replicas: a proof's jti recorded by one
// replica is refused by every other replica that shares the Redis server.
//
// It is a module of its own, github.com/bearerguard/bearerguard/replay/redisstore,
// so that an application without Redis does not get a Redis client in its
// go.sum. It depends on github.com/redis/go-redis/v9 and nothing else.
//
// Each Add is one command and so one round trip:
//
//	SET <prefix><key> 1 NX PXAT <until in Unix milliseconds>
//
// Redis sets the key only if it is absent and drops it at until, so the
// check-and-record is atomic across any number of replicas and the store
// needs no cleanup. Any error (Redis down, a timeout, a refused command) is
// returned as it is; bearerguard answers such a request with 503 and never
// accepts it (fail closed).
//
// The store works with a single Redis server, a Sentinel-managed primary or a
// Redis Cluster (anything that is a redis.UniversalClient): each key lives on
// one node. It relies on the primary for consistency: with asynchronous
// replication, a failover can lose keys written just before it, and a proof
// replayed in that moment could be accepted once.
//
// # Memory and eviction
//
// Each recorded proof is one Redis key of about 100 bytes (the prefix, the
// proof key's thumbprint and a hash of its jti) with an expiry: roughly 200
// bytes of Redis memory, for as long as bearerguard asks (by default at most
// two minutes). Give Redis a maxmemory with the noeviction policy: a full
// Redis then refuses the SET, and bearerguard answers 503. Any eviction
// policy (allkeys-lru, volatile-ttl, ...) would drop recorded proofs before
// they expire, and a dropped proof can be replayed.
//
// Unlike bearerguard's in-memory store, this store sets no bound per DPoP
// key: one client flooding with fresh proofs costs Redis memory, not other
// clients' service, until Redis is full, and then every replica answers 503
// to every DPoP request until keys expire. Bound the request rate per client
// in front of the API (a rate limiter keyed by client or token) if that
// matters. A per-key bound here would need a count per key and time slot
// kept in the same hash slot as the proof keys, checked and updated by a
// script in the same round trip; it is not done.
package redisstore
