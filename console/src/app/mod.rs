//! The console's state and what changes it: network events here, keys in `keys` (each turned
//! into state changes and commands for the network side). No I/O and no drawing here; `ui`
//! draws from this.

pub mod fleet;
mod keys;
pub mod log_lines;

use crate::net::{Command, NetEvent};
use gas_shared::admin::{Event, Status, TaskDetail, TaskQuery, TaskSummary};
use gas_shared::standing::StandingView;
use gas_shared::verdict::Verdict;
use gas_shared::{Modality, TaskState};
use std::collections::VecDeque;

/// Tasks kept in the live list.
const LIST_CAP: usize = 1000;
/// Log lines kept.
const LOG_CAP: usize = 3000;
/// How often the open Standing screen reads `GET /standing` again.
pub const STANDING_EVERY_MS: i64 = 30_000;
/// How often a drill-down's calls or refusals are read again while shown.
pub const RECENT_EVERY_MS: i64 = 5_000;
/// The Standing screen shows the validators in sections of this many, so that each fits an
/// 80×24 terminal and scrolling a section at a time skips none.
pub const VALIDATORS_PER_SECTION: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Dashboard,
    Tasks,
    Detail,
    Services,
    Logs,
    Standing,
    Charts,
}

impl Screen {
    pub const TABS: [Screen; 6] = [
        Screen::Dashboard,
        Screen::Tasks,
        Screen::Services,
        Screen::Logs,
        Screen::Standing,
        Screen::Charts,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Screen::Dashboard => "1 Dashboard",
            Screen::Tasks | Screen::Detail => "2 Tasks",
            Screen::Services => "3 Services",
            Screen::Logs => "4 Logs",
            Screen::Standing => "5 Standing",
            Screen::Charts => "6 Charts",
        }
    }

    /// The tab's title where the header is narrow.
    pub fn short_title(self) -> &'static str {
        match self {
            Screen::Dashboard => "1 Dash",
            Screen::Services => "3 Serv",
            Screen::Standing => "5 Stand",
            Screen::Charts => "6 Chart",
            other => other.title(),
        }
    }
}

/// The connection to the miner, as the operator should see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Conn {
    Connecting,
    Up {
        since_ms: i64,
        reconnected: bool,
    },
    /// The socket does not answer. `stopped`: the miner was draining when it went, so it
    /// stopped as asked (not a crash).
    Down {
        since_ms: i64,
        error: String,
        stopped: bool,
    },
}

/// The miner's state as the header says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Not heard from yet.
    Starting,
    Live,
    /// Finishing the work in flight before it stops; accepts nothing new.
    Draining,
    /// Connected, but no status for this many seconds (a hung or overloaded miner).
    Silent(i64),
    /// Gone after draining: stopped as asked.
    Stopped,
    /// Gone without saying so.
    Unreachable,
}

/// Seconds without a status (the miner sends one every second) before the console says so.
pub const SILENT_AFTER_S: i64 = 5;

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

/// A task state in the console's one short word, the same in the queue's columns, the task
/// list and its filter (the help lists them with the miner's names).
pub fn state_word(state: TaskState) -> &'static str {
    match state {
        TaskState::Queued => "wait",
        TaskState::Generating => "gen",
        TaskState::Preflight => "chk",
        TaskState::Delivering => "send",
        TaskState::Delivered => "done",
        TaskState::Failed => "fail",
        TaskState::Expired => "exp",
    }
}

/// The task list's filters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub state: Option<TaskState>,
    pub modality: Option<Modality>,
    pub c2pa_failed: bool,
    pub search: String,
    /// The tasks one provider made (a drill-down from the dashboard).
    pub provider: Option<String>,
    /// One validator's tasks (a drill-down from the dashboard).
    pub validator: Option<String>,
}

impl Filter {
    pub fn query(&self) -> TaskQuery {
        TaskQuery {
            state: self.state,
            modality: self.modality,
            verdict: self.c2pa_failed.then(|| "c2pa_failed".to_string()),
            provider: self.provider.clone(),
            // The miner's search finds a validator's hotkey too; a typed search goes first
            // and the validator is then kept by `matches`.
            q: if self.search.is_empty() {
                self.validator.clone()
            } else {
                Some(self.search.clone())
            },
            limit: Some(500),
            ..TaskQuery::default()
        }
    }

    pub fn matches(&self, t: &TaskSummary) -> bool {
        let needle = self.search.to_lowercase();
        self.state.is_none_or(|s| t.state == s)
            && self.modality.is_none_or(|m| t.modality == m)
            && (!self.c2pa_failed || t.c2pa_failed)
            && self
                .provider
                .as_ref()
                .is_none_or(|p| t.provider.as_ref() == Some(p))
            && self.validator.as_ref().is_none_or(|v| &t.validator == v)
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
            parts.push(format!("state={}", state_word(s)));
        }
        if let Some(m) = self.modality {
            parts.push(format!("modality={m}"));
        }
        if self.c2pa_failed {
            parts.push("failed C2PA".into());
        }
        if let Some(p) = &self.provider {
            parts.push(format!("provider={p}"));
        }
        if let Some(v) = &self.validator {
            parts.push(format!("validator={}", short_key(v)));
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

/// A log line's level, most serious first (a filter shows a level and those before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    #[default]
    Debug,
}

impl LogLevel {
    pub fn word(self) -> &'static str {
        match self {
            LogLevel::Error => "ERROR",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
        }
    }

    pub fn letter(self) -> &'static str {
        &self.word()[..1]
    }

    /// The next filter of `l`: everything, INFO and worse, WARN and worse, ERROR only.
    pub fn next_filter(self) -> LogLevel {
        match self {
            LogLevel::Debug => LogLevel::Info,
            LogLevel::Info => LogLevel::Warn,
            LogLevel::Warn => LogLevel::Error,
            LogLevel::Error => LogLevel::Debug,
        }
    }
}

/// What the log shows: a level and worse, lines containing a text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogFilter {
    pub level: LogLevel,
    pub query: String,
}

/// A line being typed, with its cursor (a character index).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Input {
    pub text: String,
    pub cursor: usize,
}

impl Input {
    /// Starts with `text`, the cursor at its end.
    pub fn new(text: &str) -> Input {
        Input {
            text: text.to_string(),
            cursor: text.chars().count(),
        }
    }

    /// The byte offset of character `i`.
    fn at(&self, i: usize) -> usize {
        self.text
            .char_indices()
            .nth(i)
            .map_or(self.text.len(), |(b, _)| b)
    }

    /// The text before and after the cursor.
    pub fn split(&self) -> (&str, &str) {
        self.text.split_at(self.at(self.cursor))
    }
}

/// The queue's columns on the dashboard, in order.
pub const QUEUE_STATES: [TaskState; 7] = [
    TaskState::Queued,
    TaskState::Generating,
    TaskState::Preflight,
    TaskState::Delivering,
    TaskState::Delivered,
    TaskState::Failed,
    TaskState::Expired,
];

/// The dashboard's panels that take the keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Panel {
    #[default]
    Queue,
    Providers,
    Validators,
}

/// Where the dashboard's keys are: the panel, its row, and (the queue) its state column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DashFocus {
    pub panel: Panel,
    pub row: usize,
    pub col: usize,
}

/// The order of the task list (`o` cycles it); the list comes newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskOrder {
    #[default]
    Newest,
    Oldest,
    State,
    Provider,
}

impl TaskOrder {
    pub fn next(self) -> TaskOrder {
        match self {
            TaskOrder::Newest => TaskOrder::Oldest,
            TaskOrder::Oldest => TaskOrder::State,
            TaskOrder::State => TaskOrder::Provider,
            TaskOrder::Provider => TaskOrder::Newest,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            TaskOrder::Newest => "newest first",
            TaskOrder::Oldest => "oldest first",
            TaskOrder::State => "by state",
            TaskOrder::Provider => "by provider",
        }
    }

    /// Puts `tasks` in this order (ties newest first).
    pub fn sort(self, tasks: &mut [TaskSummary]) {
        tasks.sort_by(|a, b| {
            let newest = b.created_ms.cmp(&a.created_ms);
            match self {
                TaskOrder::Newest => newest,
                TaskOrder::Oldest => a.created_ms.cmp(&b.created_ms),
                TaskOrder::State => a.state.cmp(&b.state).then(newest),
                TaskOrder::Provider => a.provider.cmp(&b.provider).then(newest),
            }
        });
    }
}

/// The order of the validators' table (`o` cycles it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValidatorOrder {
    /// Most challenges first, as the miner sends them.
    #[default]
    Asked,
    Refused,
    Rejected,
    Taken,
}

impl ValidatorOrder {
    pub fn next(self) -> ValidatorOrder {
        match self {
            ValidatorOrder::Asked => ValidatorOrder::Refused,
            ValidatorOrder::Refused => ValidatorOrder::Rejected,
            ValidatorOrder::Rejected => ValidatorOrder::Taken,
            ValidatorOrder::Taken => ValidatorOrder::Asked,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            ValidatorOrder::Asked => "asked",
            ValidatorOrder::Refused => "refused",
            ValidatorOrder::Rejected => "rejected",
            ValidatorOrder::Taken => "taken",
        }
    }
}

/// The validators in the table's order.
pub fn ordered_validators(
    s: &Status,
    order: ValidatorOrder,
) -> Vec<&gas_shared::admin::ValidatorStats> {
    let mut v: Vec<_> = s.validators.iter().collect();
    match order {
        ValidatorOrder::Asked => {}
        ValidatorOrder::Refused => v.sort_by_key(|x| std::cmp::Reverse(x.refused)),
        ValidatorOrder::Rejected => v.sort_by_key(|x| std::cmp::Reverse(x.replies.rejected)),
        ValidatorOrder::Taken => v.sort_by_key(|x| std::cmp::Reverse(x.replies.taken)),
    }
    v
}

/// The service editor: which modality is picked and the text being typed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceEdit {
    pub video: bool,
    /// Some while typing a new chain.
    pub typing: Option<Input>,
    /// When `r` was pressed once: a second `r` soon after resets the selection.
    pub reset_asked_ms: Option<i64>,
}

/// How long a first `r` waits for the second that confirms a reset.
pub const RESET_CONFIRM_MS: i64 = 5_000;

/// The Standing screen: the miner's last `GET /standing` answer and the requests in flight.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Standing {
    pub view: Option<StandingView>,
    /// When the console received `view` (its own clock), to age what the miner said.
    pub received_ms: Option<i64>,
    /// Why the last `GET /standing` failed (None once one answers).
    pub error: Option<String>,
    /// When the last `GET /standing` was sent, or answered: the next is due
    /// [`STANDING_EVERY_MS`] after.
    pub asked_ms: Option<i64>,
    /// A `GET /standing` is in flight.
    pub loading: bool,
    /// Since when a `POST /standing/refresh` has been waiting for the subnet's API.
    pub refreshing_since: Option<i64>,
    /// The first section shown (the screen scrolls a section at a time).
    pub scroll: usize,
}

impl Standing {
    /// The miner's clock now, as far as the console can tell: its `now_ms` when it answered,
    /// moved on by the time since. Ages on the screen are measured against it.
    pub fn miner_now(&self, now_ms: i64) -> Option<i64> {
        let view = self.view.as_ref()?;
        Some(view.now_ms + (now_ms - self.received_ms.unwrap_or(now_ms)).max(0))
    }

    /// How many sections the screen shows, top to bottom: the sources; one card per gate
    /// (or one saying why there are none); the validators, [`VALIDATORS_PER_SECTION`] a
    /// section; the chain; the estimate; the spend. Only the sources until the miner has
    /// answered.
    pub fn sections(&self) -> usize {
        match &self.view {
            None => 1,
            Some(v) => {
                let validators = v.validators.len().div_ceil(VALIDATORS_PER_SECTION).max(1);
                1 + v.api.gates.len().max(1) + validators + 3
            }
        }
    }
}

pub struct App {
    pub socket: String,
    pub screen: Screen,
    pub help: bool,
    /// How far the help is scrolled.
    pub help_scroll: u16,
    /// The list of every alert is open (`!`).
    pub alerts_open: bool,
    pub conn: Conn,
    pub now_ms: i64,
    pub status: Option<Status>,
    pub tasks: Vec<TaskSummary>,
    pub filter: Filter,
    /// Some while typing a search (applied as it is typed); the search before it, for Esc.
    pub search_input: Option<(Input, String)>,
    pub selected: usize,
    pub detail: Option<TaskDetail>,
    pub detail_scroll: u16,
    /// The furthest the detail can scroll, as last drawn (the drawing knows the size).
    pub detail_max_scroll: std::cell::Cell<u16>,
    pub replayed: Option<Verdict>,
    pub services: ServiceEdit,
    pub logs: VecDeque<String>,
    /// Lines (of those shown) scrolled up from the newest (0: following).
    pub log_scroll: usize,
    pub log_filter: LogFilter,
    /// Some while typing a log search (applied as typed); the one before, for Esc.
    pub log_search: Option<(Input, String)>,
    pub standing: Standing,
    /// The charts' minutes (the last day), by unix minute.
    pub minutes: std::collections::BTreeMap<i64, gas_shared::admin::MinutePoint>,
    /// The charts show the last day (else the last hour).
    pub charts_day: bool,
    /// The provider whose latency the charts show (`None`: every provider's attempts).
    pub chart_provider: Option<String>,
    /// Where the dashboard's keys are.
    pub dash: DashFocus,
    pub validator_order: ValidatorOrder,
    pub task_order: TaskOrder,
    /// A drill-down's way back: the screen and the task filter before it (Esc).
    pub back: Option<(Screen, Filter)>,
    /// The drilled-into provider's last calls, and validator's last refusals (`None`: not
    /// loaded yet).
    pub calls: Option<Vec<gas_shared::admin::CallSummary>>,
    pub refusals: Option<Vec<gas_shared::admin::RefusalSummary>>,
    /// When they were last asked for.
    pub recent_asked_ms: i64,
    pub message: Option<Message>,
    /// When the last status arrived (the console's clock).
    pub status_at_ms: Option<i64>,
    /// The miner's name when it is one of a fleet (the header says so, `F` goes back).
    pub fleet_name: Option<String>,
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
            alerts_open: false,
            help_scroll: 0,
            conn: Conn::Connecting,
            now_ms,
            status: None,
            tasks: Vec::new(),
            filter: Filter::default(),
            search_input: None,
            selected: 0,
            detail: None,
            detail_scroll: 0,
            detail_max_scroll: std::cell::Cell::new(u16::MAX),
            replayed: None,
            services: ServiceEdit::default(),
            logs: VecDeque::new(),
            log_scroll: 0,
            log_filter: LogFilter::default(),
            log_search: None,
            standing: Standing::default(),
            minutes: std::collections::BTreeMap::new(),
            charts_day: false,
            chart_provider: None,
            dash: DashFocus::default(),
            validator_order: ValidatorOrder::default(),
            task_order: TaskOrder::default(),
            back: None,
            calls: None,
            refusals: None,
            recent_asked_ms: 0,
            fleet_name: None,
            message: None,
            status_at_ms: None,
            opened: None,
            quit: false,
        }
    }

    pub(crate) fn say(&mut self, text: impl Into<String>, tone: Tone) {
        self.message = Some(Message {
            text: text.into(),
            tone,
            at_ms: self.now_ms,
        });
    }

    /// The clock moved on: old messages go, and the open Standing screen is read again
    /// every [`STANDING_EVERY_MS`].
    pub fn tick(&mut self, now_ms: i64) -> Vec<Command> {
        self.now_ms = now_ms;
        if self
            .message
            .as_ref()
            .is_some_and(|m| now_ms - m.at_ms > 8_000)
        {
            self.message = None;
        }
        let due = self
            .standing
            .asked_ms
            .is_none_or(|at| now_ms - at >= STANDING_EVERY_MS);
        if self.screen == Screen::Standing && due {
            return self.load_standing();
        }
        if self.screen == Screen::Tasks && now_ms - self.recent_asked_ms >= RECENT_EVERY_MS {
            return self.load_recent();
        }
        Vec::new()
    }

    /// `GET /standing`, unless one is on its way already.
    fn load_standing(&mut self) -> Vec<Command> {
        if self.standing.loading {
            return Vec::new();
        }
        self.standing.loading = true;
        self.standing.asked_ms = Some(self.now_ms);
        vec![Command::LoadStanding]
    }

    /// Opens a screen; returns what it needs loaded.
    fn open(&mut self, screen: Screen) -> Vec<Command> {
        // A message was about the screen it was said on.
        if self.screen != screen {
            self.message = None;
        }
        self.screen = screen;
        if screen == Screen::Standing {
            return self.load_standing();
        }
        Vec::new()
    }

    /// Asks the miner to ask the subnet's API now, unless it is asking already.
    fn refresh_standing(&mut self) -> Vec<Command> {
        if let Some(since) = self.standing.refreshing_since {
            let waited = (self.now_ms - since).max(0) / 1000;
            self.say(
                format!("still asking the subnet's API ({waited} s so far)…"),
                Tone::Info,
            );
            return Vec::new();
        }
        self.standing.refreshing_since = Some(self.now_ms);
        vec![Command::RefreshStanding]
    }

    fn got_standing(&mut self, view: StandingView) {
        self.standing.view = Some(view);
        self.standing.received_ms = Some(self.now_ms);
        self.standing.error = None;
    }

    /// A status arrived: kept with its time; a different hotkey behind the socket is said.
    fn got_status(&mut self, s: Status) {
        if let Some(old) = &self.status
            && old.hotkey != s.hotkey
        {
            let text = format!(
                "a different miner answers on this socket now: hotkey {} (was {}); everything shown is its own",
                short_key(&s.hotkey),
                short_key(&old.hotkey)
            );
            self.say(text, Tone::Bad);
            // Its tasks are not the old one's.
            self.tasks.clear();
            self.detail = None;
        }
        self.status = Some(s);
        self.status_at_ms = Some(self.now_ms);
    }

    /// What the miner is doing, as far as the console can tell.
    pub fn phase(&self) -> Phase {
        match &self.conn {
            Conn::Connecting => Phase::Starting,
            Conn::Down { stopped: true, .. } => Phase::Stopped,
            Conn::Down { .. } => Phase::Unreachable,
            Conn::Up { .. } => {
                let quiet = self
                    .status_at_ms
                    .map(|at| (self.now_ms - at) / 1000)
                    .unwrap_or(0);
                if quiet >= SILENT_AFTER_S {
                    Phase::Silent(quiet)
                } else if self.status.as_ref().is_some_and(|s| s.phase == "draining") {
                    Phase::Draining
                } else if self.status.is_none() {
                    Phase::Starting
                } else {
                    Phase::Live
                }
            }
        }
    }

    /// Whether a line is being typed (every key goes to it).
    pub fn typing(&self) -> bool {
        self.search_input.is_some() || self.log_search.is_some() || self.services.typing.is_some()
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
                // Newest first, a task takes its place by age: one entering a state's filter
                // (delivered, say) can be older than the list's top.
                let at = match self.task_order {
                    TaskOrder::Newest => self
                        .tasks
                        .iter()
                        .position(|x| x.created_ms < t.created_ms)
                        .unwrap_or(self.tasks.len()),
                    _ => 0,
                };
                self.tasks.insert(at, t);
                self.tasks.truncate(LIST_CAP);
                if self.task_order != TaskOrder::Newest {
                    self.task_order.sort(&mut self.tasks);
                }
                if self.selected > 0 && at <= self.selected {
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

    /// The charts' latency line moves to the next provider with attempts in the last day,
    /// then back to all of them.
    pub fn next_chart_provider(&mut self) {
        let names: std::collections::BTreeSet<&String> = self
            .minutes
            .values()
            .flat_map(|p| p.provider_p95_ms.keys())
            .collect();
        self.chart_provider = match &self.chart_provider {
            None => names.first().map(|n| (*n).clone()),
            Some(now) => names
                .range::<&String, _>((std::ops::Bound::Excluded(now), std::ops::Bound::Unbounded))
                .next()
                .map(|n| (*n).clone()),
        };
    }

    /// Loads the task list for the filter, with what a drill-down shows beside it: the
    /// provider's last calls or the validator's last refusals.
    pub fn reload_tasks(&mut self) -> Vec<Command> {
        let mut out = vec![Command::LoadTasks(self.filter.query())];
        out.extend(self.load_recent());
        out
    }

    /// The drilled-into provider's last calls or validator's last refusals (read again
    /// every [`RECENT_EVERY_MS`] while shown); what no longer applies is dropped.
    fn load_recent(&mut self) -> Vec<Command> {
        let mut out = Vec::new();
        match &self.filter.provider {
            Some(p) => out.push(Command::LoadCalls(p.clone())),
            None => self.calls = None,
        }
        match &self.filter.validator {
            Some(v) => out.push(Command::LoadRefusals(v.clone())),
            None => self.refusals = None,
        }
        if !out.is_empty() {
            self.recent_asked_ms = self.now_ms;
        }
        out
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
                    return self.reload_tasks();
                }
            }
            NetEvent::Disconnected(error) => {
                if !matches!(self.conn, Conn::Down { .. }) {
                    let stopped = self.status.as_ref().is_some_and(|s| s.phase == "draining");
                    self.conn = Conn::Down {
                        since_ms: self.now_ms,
                        error,
                        stopped,
                    };
                } else if let Conn::Down { error: e, .. } = &mut self.conn {
                    *e = error;
                }
            }
            NetEvent::Event(Event::Snapshot { status, tasks }) => {
                self.got_status(*status);
                if self.filter.is_empty() {
                    self.tasks = tasks;
                    self.selected = self.selected.min(self.tasks.len().saturating_sub(1));
                }
            }
            NetEvent::Event(Event::Status(s)) => self.got_status(*s),
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
            NetEvent::Event(Event::Minutes { points }) => {
                for p in points {
                    self.minutes.insert(p.minute, p);
                }
                if let Some(&last) = self.minutes.keys().next_back() {
                    self.minutes = self.minutes.split_off(&(last - 24 * 60));
                }
            }
            NetEvent::Tasks(page) => {
                self.tasks = page.tasks;
                self.task_order.sort(&mut self.tasks);
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
                    format!("replayed verification of {}: PASSED", short_task(&id))
                } else {
                    format!(
                        "replayed verification of {}: FAILED: {}",
                        short_task(&id),
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
            NetEvent::Standing(result) => {
                self.standing.loading = false;
                self.standing.asked_ms = Some(self.now_ms);
                match result {
                    Ok(view) => self.got_standing(*view),
                    Err(why) => self.standing.error = Some(why),
                }
            }
            NetEvent::StandingRefreshed(result) => {
                self.standing.refreshing_since = None;
                match result {
                    Ok(view) => {
                        let (text, tone) = match (&view.api.error, view.api.signature_refused) {
                            (Some(e), true) => (
                                format!("the subnet's API refused our signature: {e}"),
                                Tone::Bad,
                            ),
                            (Some(e), false) => {
                                (format!("the subnet's API did not answer: {e}"), Tone::Bad)
                            }
                            (None, _) => ("the subnet's API answered".to_string(), Tone::Good),
                        };
                        self.say(text, tone);
                        self.got_standing(*view);
                    }
                    Err(why) => {
                        self.say(format!("asking the subnet's API failed: {why}"), Tone::Bad)
                    }
                }
            }
            NetEvent::Exported(path, n) => self.say(
                format!(
                    "{n} task{} written to {}",
                    if n == 1 { "" } else { "s" },
                    path.display()
                ),
                Tone::Good,
            ),
            NetEvent::Calls(name, calls) => {
                if self.filter.provider.as_ref() == Some(&name) {
                    self.calls = Some(calls);
                }
            }
            NetEvent::Refusals(hotkey, refusals) => {
                if self.filter.validator.as_ref() == Some(&hotkey) {
                    self.refusals = Some(refusals);
                }
            }
            NetEvent::Failed(why) => self.say(why, Tone::Bad),
        }
        Vec::new()
    }
}

/// A hotkey's first 8 characters and an ellipsis.
fn short_key(hotkey: &str) -> String {
    format!("{}…", hotkey.get(..8).unwrap_or(hotkey))
}

/// The first 8 characters of a hotkey.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

/// A task id in a column or a message: its last 8 characters. Task ids are time-ordered
/// (UUIDv7), so the tasks of one day share their first 8; the end is random.
pub fn short_task(id: &str) -> &str {
    id.get(id.len().saturating_sub(8)..).unwrap_or(id)
}
