// Package redisstore is a DPoP replay store (RFC 9449 section 11.1) kept in
// Redis, for APIs that run as several replicas: a proof's jti recorded by one
// replica is refused by every other replica that shares the Redis server.
//
// It is a module of its own, github.com/bearerguard/bearerguard/replay/redisstore,
// so that an application without Redis does not get a Redis client in its
// go.sum. It depends on github.com/redis/go-redis/v9 and bearerguard's
// middleware package (for middleware.ErrReplayKeyLimit).
//
// # Layout and commands
//
// bearerguard's keys are "<thumbprint>.<jti hash>": the RFC 7638 thumbprint
// of the proof's key and a hash of its jti. Each thumbprint has one sorted
// set, named <prefix><thumbprint>, whose members are its jti hashes, each
// scored by the time it expires. Each Add is one round trip, a Lua script
// (EVALSHA) that Redis runs atomically: it reads Redis's clock, drops the
// set's expired members, answers "replay" if the jti hash is still there,
// refuses the proof if the set holds Options.MaxProofsPerKey members, and
// else adds it and keeps the set alive until its last member expires. The
// check-and-record is thus atomic across any number of replicas, expiry
// follows one clock (Redis's), and the store needs no cleanup. Any error
// (Redis down, a timeout, a refused command) is returned as it is;
// bearerguard answers such a request with 503 and never accepts it (fail
// closed).
//
// The script costs Redis about 35 µs of CPU time a proof on a 2-core KVM
// guest, against about 3 µs for one SET (BenchmarkAdd), so one Redis core
// records some 30 000 proofs a second. With a negative
// Options.MaxProofsPerKey there is no bound per DPoP key, and each proof is
// one key of its own, <prefix><thumbprint>.<jti hash>, recorded by
// SET NX PXAT and dropped by Redis at its until. Replicas sharing a Prefix
// must agree on the choice: the two layouts do not see each other's
// records.
//
// The store works with a single Redis server (5.0 or later: the script
// reads TIME; 6.2 or later without the bound, for SET's PXAT), a
// Sentinel-managed primary or a Redis Cluster (anything that
// is a redis.UniversalClient): the script touches one key, so each DPoP
// key's set lives on one node. It relies on the primary for consistency:
// with asynchronous replication, a failover can lose proofs written just
// before it, and a proof replayed in that moment could be accepted once.
//
// Redis forgets a proof at its until by Redis's clock, while a replica
// accepts the proof until then by its own: a replica whose clock runs d
// behind Redis's accepts a replay in the last d of each proof's window.
// Keep the clocks of the replicas and of Redis synchronised (NTP).
//
// # Memory, eviction and the bound per DPoP key
//
// A recorded proof costs 80 to 240 bytes of Redis memory, by how many
// proofs its DPoP key holds: about 240 for a key holding one (the set and
// its expiry are then the proof's alone), 80 for ten (a compact set), 135
// to 145 for large sets (TestMemoryPerProof: 100 000 in one set); about
// 200 as a key of its own without the bound. It stays for as long as
// bearerguard asks
// (by default at most two minutes). Give Redis a maxmemory with the
// noeviction policy: a full Redis then refuses the script's writes, and
// bearerguard answers 503. Any eviction policy (allkeys-lru, volatile-ttl,
// ...) would drop recorded proofs before they expire, and a dropped proof
// can be replayed.
//
// One DPoP key holds at most Options.MaxProofsPerKey unexpired proofs
// (DefaultMaxProofsPerKey, 100 000: about 14 MB, and about 830 proofs a
// second sustained across all replicas with a two-minute window). A client
// flooding with fresh proofs of its key is then refused with
// middleware.ErrReplayKeyLimit, which bearerguard answers with 503 and a
// Retry-After until the key's oldest proof expires, while other clients
// are served. Each DPoP key needs a token bound to it from the issuer, so
// only holders of many such tokens can still fill Redis; bound the request
// rate per client in front of the API if that matters.
package redisstore
