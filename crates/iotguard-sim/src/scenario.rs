//! The drift scenario: the network a model was trained on, then a change point after which
//! it is no longer the same network (`iotguard simulate --scenario drift --change-at N`).
//!
//! Before flow `N` ([`DriftScenario::change_at`]) the flows are those of the configured
//! network without its voice assistants and hubs (the device types that will be new). From
//! the change time (the time of flow `N`) on:
//!
//! - every camera runs a new firmware ([`SimConfig::camera_firmware_update_us`]): its streams
//!   and clip uploads go over QUIC (UDP 443) in sessions a tenth as long;
//! - device types the network never had appear: voice assistants and hubs (as many as the
//!   config names, at least two of each) on a new segment, [`NEWCOMER_NETWORK`], clean.
//!
//! The stream is the first network's flows merged in time order with the newcomers', so it
//! stays in non-decreasing `ts` order. Deterministic like the simulator: the same config and
//! change point give the same flows. The first `N` flows equal the first network's flows
//! without the update (flows sharing flow `N`'s exact time aside).

use std::iter::Peekable;

use iotguard_flow::{FlowRecord, Timestamp};

use crate::{DeviceCounts, Error, Flows, SimConfig, Simulator};

/// The address range of the devices that appear at the change.
pub const NEWCOMER_NETWORK: &str = "192.168.77.0/24";

/// A simulated network with a change point; see the module docs.
pub struct DriftScenario {
    main: Simulator,
    newcomers: Simulator,
    change_at: u64,
    change_time: Timestamp,
}

impl DriftScenario {
    /// Builds the scenario from a config (its voice assistants and hubs are the newcomers)
    /// with the change at flow `change_at`.
    pub fn new(config: SimConfig, change_at: u64) -> Result<DriftScenario, Error> {
        let before = SimConfig {
            devices: DeviceCounts {
                voice_assistants: 0,
                hubs: 0,
                ..config.devices.clone()
            },
            camera_firmware_update_us: None,
            ..config.clone()
        };
        let probe = Simulator::new(before.clone())?;
        let change_time = probe
            .flows()
            .nth(change_at as usize)
            .map_or(Timestamp(i64::MAX), |f| f.ts);
        let start_ns = before.start_unix_secs * 1_000_000_000;
        let main = Simulator::new(SimConfig {
            camera_firmware_update_us: Some((change_time.0 - start_ns) / 1000),
            ..before
        })?;
        let newcomers = Simulator::new(SimConfig {
            seed: config.seed ^ 0x6e65_7763_6f6d_6572,
            start_unix_secs: change_time.0.div_euclid(1_000_000_000),
            local_network: NEWCOMER_NETWORK.to_string(),
            devices: DeviceCounts {
                cameras: 0,
                smart_plugs: 0,
                thermostats: 0,
                voice_assistants: config.devices.voice_assistants.max(2),
                hubs: config.devices.hubs.max(2),
            },
            camera_firmware_update_us: None,
            ..config.without_attacks()
        })?;
        Ok(DriftScenario {
            main,
            newcomers,
            change_at,
            change_time,
        })
    }

    /// Returns the flow index at which the network changes.
    pub fn change_at(&self) -> u64 {
        self.change_at
    }

    /// Returns the time of the change (flow [`DriftScenario::change_at`]'s time).
    pub fn change_time(&self) -> Timestamp {
        self.change_time
    }

    /// Returns the scenario's flows, endless, in time order.
    pub fn flows(&self) -> ScenarioFlows {
        let at = self.change_time;
        ScenarioFlows {
            main: self.main.flows().peekable(),
            newcomers: self
                .newcomers
                .flows()
                .skip_while(Box::new(move |f: &FlowRecord| f.ts < at) as SkipFn)
                .peekable(),
        }
    }
}

/// Skips the newcomers' flows before the change (their simulator starts at its whole second).
type SkipFn = Box<dyn FnMut(&FlowRecord) -> bool + Send>;

/// The scenario's flows: the first network's and the newcomers' merged by time.
pub struct ScenarioFlows {
    main: Peekable<Flows>,
    newcomers: Peekable<std::iter::SkipWhile<Flows, SkipFn>>,
}

impl Iterator for ScenarioFlows {
    type Item = FlowRecord;

    fn next(&mut self) -> Option<FlowRecord> {
        let take_main = match (self.main.peek(), self.newcomers.peek()) {
            (Some(a), Some(b)) => a.ts <= b.ts,
            (Some(_), None) => true,
            (None, _) => false,
        };
        if take_main {
            self.main.next()
        } else {
            self.newcomers.next()
        }
    }
}
