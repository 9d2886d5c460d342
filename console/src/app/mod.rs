//! The console's state and what changes it: network events here, keys in `keys` (each turned
//! into state changes and commands for the network side). No I/O and no drawing here; `ui`
//! draws from this.

mod keys;

use crate::net::{Command, NetEvent};
use gas_shared::admin::{Event, Status, TaskDetail, TaskQuery, TaskSummary};
use gas_shared::verdict::Verdict;
use gas_shared::{Modality, TaskState};
use std::collections::VecDeque;

/// Tasks kept in the live list.
const LIST_CAP: usize = 1000;
/// Log lines kept.
const LOG_CAP: usize = 3000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Dashboard,
    Tasks,
    Detail,
    Services,
    Logs,
}

impl Screen {
    pub const TABS: [Screen; 4] = [
        Screen::Dashboard,
        Screen::Tasks,
        Screen::Services,
        Screen::Logs,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Screen::Dashboard => "1 Dashboard",
            Screen::Tasks | Screen::Detail => "2 Tasks",
            Screen::Services => "3 Services",
            Screen::Logs => "4 Logs",
        }
    }
}

/// The connection to the miner, as the operator should see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Conn {
    Connecting,
    Up { since_ms: i64, reconnected: bool },
    Down { since_ms: i64, error: String },
}

/// How a message should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Good,
    Bad,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    pub tone: Tone,
    pub at_ms: i64,
}

/// The task list's filters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub state: Option<TaskState>,
    pub modality: Option<Modality>,
    pub c2pa_failed: bool,
    pub search: String,
}

impl Filter {
    pub fn query(&self) -> TaskQuery {
        TaskQuery {
            state: self.state,
            modality: self.modality,
            verdict: self.c2pa_failed.then(|| "c2pa_failed".to_string()),
            q: (!self.search.is_empty()).then(|| self.search.clone()),
            limit: Some(500),
            ..TaskQuery::default()
        }
    }

    pub fn matches(&self, t: &TaskSummary) -> bool {
        let needle = self.search.to_lowercase();
        self.state.is_none_or(|s| t.state == s)
            && self.modality.is_none_or(|m| t.modality == m)
            && (!self.c2pa_failed || t.c2pa_failed)
            && (needle.is_empty()
                || t.task_id.contains(&needle)
                || t.prompt.to_lowercase().contains(&needle)
                || t.validator.to_lowercase().contains(&needle))
    }

    pub fn is_empty(&self) -> bool {
        *self == Filter::default()
    }

    /// A short description for the list's title.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.state {
            parts.push(format!("state={s}"));
        }
        if let Some(m) = self.modality {
            parts.push(format!("modality={m}"));
        }
        if self.c2pa_failed {
            parts.push("failed C2PA".into());
        }
        if !self.search.is_empty() {
            parts.push(format!("\"{}\"", self.search));
        }
        if parts.is_empty() {
            "all".into()
        } else {
            parts.join(", ")
        }
    }
}

/// The service editor: which modality is picked and the text being typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceEdit {
    pub video: bool,
    /// Some while typing a new chain.
    pub typing: Option<String>,
}

pub struct App {
    pub socket: String,
    pub screen: Screen,
    pub help: bool,
    pub conn: Conn,
    pub now_ms: i64,
    pub status: Option<Status>,
    pub tasks: Vec<TaskSummary>,
    pub filter: Filter,
    /// Some while typing a search.
    pub search_input: Option<String>,
    pub selected: usize,
    pub detail: Option<TaskDetail>,
    pub detail_scroll: u16,
    pub replayed: Option<Verdict>,
    pub services: ServiceEdit,
    pub logs: VecDeque<String>,
    /// Lines scrolled up from the newest (0: following).
    pub log_scroll: usize,
    pub message: Option<Message>,
    /// The media path last asked for ("open"), printed when the console quits.
    pub opened: Option<String>,
    pub quit: bool,
}

impl App {
    pub fn new(socket: &str, now_ms: i64) -> App {
        App {
            socket: socket.to_string(),
            screen: Screen::Dashboard,
            help: false,
            conn: Conn::Connecting,
            now_ms,
            status: None,
            tasks: Vec::new(),
            filter: Filter::default(),
            search_input: None,
            selected: 0,
            detail: None,
            detail_scroll: 0,
            replayed: None,
            services: ServiceEdit::default(),
            logs: VecDeque::new(),
            log_scroll: 0,
            message: None,
            opened: None,
            quit: false,
        }
    }

    fn say(&mut self, text: impl Into<String>, tone: Tone) {
        self.message = Some(Message {
            text: text.into(),
            tone,
            at_ms: self.now_ms,
        });
    }

    pub fn tick(&mut self, now_ms: i64) {
        self.now_ms = now_ms;
        if self
            .message
            .as_ref()
            .is_some_and(|m| now_ms - m.at_ms > 8_000)
        {
            self.message = None;
        }
    }

    /// The selected task of the list.
    pub fn current(&self) -> Option<&TaskSummary> {
        self.tasks.get(self.selected)
    }

    fn upsert(&mut self, t: TaskSummary) {
        let matches = self.filter.matches(&t);
        match self.tasks.iter().position(|x| x.task_id == t.task_id) {
            Some(i) if matches => self.tasks[i] = t,
            Some(i) => {
                self.tasks.remove(i);
            }
            None if matches => {
                self.tasks.insert(0, t);
                self.tasks.truncate(LIST_CAP);
                if self.selected > 0 {
                    self.selected += 1;
                }
            }
            None => {}
        }
        self.selected = self.selected.min(self.tasks.len().saturating_sub(1));
    }

    fn push_log(&mut self, line: String) {
        if self.logs.len() == LOG_CAP {
            self.logs.pop_front();
        }
        self.logs.push_back(line);
        if self.log_scroll > 0 {
            self.log_scroll += 1;
        }
    }

    /// Applies what the network side reports; returns follow-up commands.
    pub fn apply(&mut self, e: NetEvent) -> Vec<Command> {
        match e {
            NetEvent::Connected => {
                let reconnected = !matches!(self.conn, Conn::Connecting);
                if reconnected {
                    self.say("reconnected to the miner", Tone::Good);
                }
                self.conn = Conn::Up {
                    since_ms: self.now_ms,
                    reconnected,
                };
                // The snapshot that follows is unfiltered: reload a filtered list.
                if !self.filter.is_empty() {
                    return vec![Command::LoadTasks(self.filter.query())];
                }
            }
            NetEvent::Disconnected(error) => {
                if !matches!(self.conn, Conn::Down { .. }) {
                    self.conn = Conn::Down {
                        since_ms: self.now_ms,
                        error,
                    };
                } else if let Conn::Down { error: e, .. } = &mut self.conn {
                    *e = error;
                }
            }
            NetEvent::Event(Event::Snapshot { status, tasks }) => {
                self.status = Some(*status);
                if self.filter.is_empty() {
                    self.tasks = tasks;
                    self.selected = self.selected.min(self.tasks.len().saturating_sub(1));
                }
            }
            NetEvent::Event(Event::Status(s)) => self.status = Some(*s),
            NetEvent::Event(Event::Task(t)) => {
                if self
                    .detail
                    .as_ref()
                    .is_some_and(|d| d.summary.task_id == t.task_id)
                {
                    let id = t.task_id.clone();
                    self.upsert(*t);
                    return vec![Command::LoadDetail(id)];
                }
                self.upsert(*t);
            }
            NetEvent::Event(Event::Log { line }) => self.push_log(line),
            NetEvent::Tasks(page) => {
                self.tasks = page.tasks;
                self.selected = 0;
            }
            NetEvent::Detail(d) => {
                if self
                    .detail
                    .as_ref()
                    .is_none_or(|x| x.summary.task_id != d.summary.task_id)
                {
                    self.detail_scroll = 0;
                    self.replayed = None;
                }
                self.detail = Some(*d);
            }
            NetEvent::Verified(id, v) => {
                let text = if v.passed {
                    format!("replayed verification of {}: PASSED", short(&id))
                } else {
                    format!(
                        "replayed verification of {}: FAILED: {}",
                        short(&id),
                        v.reasons.join("; ")
                    )
                };
                self.say(text, if v.passed { Tone::Good } else { Tone::Bad });
                self.replayed = Some(*v);
                return vec![Command::LoadDetail(id)];
            }
            NetEvent::Services(s) => {
                let show = |c: &[String]| {
                    if c.is_empty() {
                        "none".to_string()
                    } else {
                        c.join(" → ")
                    }
                };
                self.say(
                    format!(
                        "service change applied: image {}, video {}",
                        show(&s.image),
                        show(&s.video)
                    ),
                    Tone::Good,
                );
                if let Some(st) = &mut self.status {
                    st.services = s;
                }
            }
            NetEvent::TrustReloaded(n) => {
                self.say(format!("trust anchors reloaded: {n}"), Tone::Good)
            }
            NetEvent::Failed(why) => self.say(why, Tone::Bad),
        }
        Vec::new()
    }
}

/// The first 8 characters of a task id.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}
