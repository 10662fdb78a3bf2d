// Package assign holds the server-side partition assignors of KIP-848 consumer groups,
// as pure functions: Uniform ("uniform", sticky, Kafka's default) and Range ("range").
//
// An assignor takes the group's members (each with the topics it subscribes to and the
// partitions it is currently assigned, by topic id) and the partition count of every
// topic, and returns each member's new target assignment. The coordinator (package group)
// then moves each member towards its target with revoke-before-assign; the assignors only
// compute targets.
//
// Both assignors:
//   - assign every partition of a topic that has at least one subscriber to exactly one
//     of its subscribers, and nothing else (a member gets only topics it subscribes to);
//   - are sticky: a member keeps the partitions it has as far as balance allows, so a
//     member joining or leaving moves as few partitions as it can;
//   - are deterministic: the same input gives the same output (members are ordered by id).
//
// Uniform balances the total number of partitions per member: with identical
// subscriptions, member counts differ by at most one; with different subscriptions, no
// partition can move to a subscriber of its topic that has two or more fewer partitions
// than its owner. Range balances each topic on its own and co-partitions: with identical
// subscriptions and no previous assignment, member i (by id) gets the i-th contiguous
// range of every topic, the first members one partition more when the count does not
// divide (the classic range assignor's layout).
//
// Concurrency: the functions keep no state and do not modify their input.
package assign
