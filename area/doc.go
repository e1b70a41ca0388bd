// Package area is what every area of ISC that the exporter watches shares:
// the account activities, the sources and managed clusters, the
// aggregations. Each area is a package of its own that holds its model, its
// rule and its part of the snapshot; this one holds the rest, once.
//
// How to add an area:
//
//  1. Write its refresh: a func(ctx) error that reads from ISC through the
//     client (which knows nothing of Prometheus), applies what it read to
//     the area's own state, and ends by publishing. Its Options embed a
//     Wiring (state file, shared families, labels, logger, clocks), which
//     its constructor defaults with Wiring.DefaultWiring.
//  2. Publish through a Publisher: it holds the area's status (up, last
//     success, duration) and its const metrics, built once per publication,
//     and is the prometheus.Collector registered for the area. Scrapes only
//     read the last publication.
//  3. If the area counts (its counters must survive restarts), build a
//     Core with NewCore, make its tracker a Counted and the area a
//     state.Section, attach it to the state file at start, and publish
//     through Core.Publish, which writes the file first: persist, then
//     publish. Its duration histograms are Histograms, written into its
//     section by EncodeHistograms.
//  4. Say failures through an outage.Streak (FailLogged): once when an
//     outage starts or changes its kind (client.FailureKind, which says
//     what advice it needs), once when it ends.
//  5. Run it with a Runner: one refresh at a time, shared by every caller
//     that arrives meanwhile, in the background every interval (or on
//     scrape), each under a deadline, joined on shutdown.
package area
