// The real pack, unchanged: its index constructs the PolicyPack and serves the analyzer protocol.
import "../../../policies/index";
