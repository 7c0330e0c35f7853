"""The emulator: DNN layer graphs and profiles (dnn), partitioning and upload order (planning), policies, and
the sim/net backends that execute them. Each subpackage re-exports its own public names."""
