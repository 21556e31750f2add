// Each collection runs an HA set of nine servers: one collection at a time on this machine.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
