// One browser scenario at a time: the 2 s live-update bound is about Tally, not about two Chromiums and
// three servers sharing two cores.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
