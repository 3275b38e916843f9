// ClusterCore: FSM, snapshots, wire format, metrics and topology model.
