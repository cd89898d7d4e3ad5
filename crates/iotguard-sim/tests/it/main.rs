//! Integration tests of the simulator: determinism across runs and threads, labels, and the
//! shape of the records.

mod determinism;
mod labels;
mod records;
mod scenario;

use iotguard_flow::FlowRecord;
use iotguard_sim::{SimConfig, Simulator};

/// A network big enough for short chunks, so a test covers several of them quickly.
pub(crate) fn busy(seed: u64) -> Simulator {
    Simulator::new(SimConfig::default().with_seed(seed).with_devices(120)).unwrap()
}

/// A network where every device is infected, so every attack kind shows up quickly.
pub(crate) fn all_infected(seed: u64) -> Simulator {
    let mut c = SimConfig::default().with_seed(seed);
    c.attacks.infected_fraction = 1.0;
    Simulator::new(c).unwrap()
}

/// Returns the detailed label, or `Benign`.
pub(crate) fn label_of(f: &FlowRecord) -> &str {
    let l = f.label.as_ref().expect("every record is labeled");
    l.detailed.as_deref().unwrap_or(&l.name)
}

#[test]
fn simulators_and_iterators_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Simulator>();
    send::<iotguard_sim::Chunk>();
    send::<iotguard_sim::Flows>();
    send::<iotguard_sim::ParChunks>();
}
