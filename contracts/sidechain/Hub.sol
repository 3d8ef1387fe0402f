// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface IExecutorStaking {
    function eligible(uint256 minFree)
        external
        view
        returns (address[] memory addrs, uint256[] memory free, uint256[] memory locked);
    function lock(address executor, uint256 amount) external;
    function unlock(address executor, uint256 amount) external;
    function slash(address executor, uint256 amount) external returns (uint256 seized);
}

/// @notice Interface a dApp implements to receive task results from the Hub.
interface ITaskCallback {
    function onTaskResult(uint256 taskId, bytes32 digest) external;
}

/// @title Hub — the proof-of-contribution compute market (system contract at 0x…1001).
/// @notice Apps (wasm) and datasets are registered by content hash. A requester escrows a payment
///         with `requestTask`; at each block boundary the node calls `schedule(randomness)` (from
///         SYSTEM_ADDRESS), which assigns executors by stake- and reputation-weighted sampling
///         without replacement — exactly as many as needed for the task's trust if they all agree,
///         topping up when a vote falls short — and `finalize()`, which settles tasks whose
///         consensus or deadline came. Executors commit (`contribute`) then `reveal`.
/// @dev The exact rules (weights, consensus, deadlines, payouts, bounds) are in docs/poc-rules.md
///      and mirrored by the TypeScript reference model in consensus/poc/. Deployed in genesis as
///      runtime code only: no constructor, all parameters are constants. Reputation scores live
///      here (`score`, slot 0), stakes in Staking (0x…1000). Payments are pull-based
///      (`withdrawable` / `withdraw`) so that no recipient can block a system call.
contract Hub {
    // ------------------------------------------------------------------ constants

    address public constant SYSTEM_ADDRESS = 0xffffFFFfFFffffffffffffffFfFFFfffFFFfFFfE;
    address public constant STAKING = 0x0000000000000000000000000000000000001000;

    /// @notice Stake locked per assignment; what a loser or a non-revealer loses.
    uint256 public constant LOCK_PER_TASK = 0.1 ether;
    /// @notice Stake granularity and cap in sampling weights.
    uint256 public constant STAKE_UNIT = 1e15;
    uint256 public constant MAX_STAKE_UNITS = 1e9;
    /// @notice Cap of an executor's reputation weight inside sampling weights.
    uint256 public constant MAX_SAMPLE_REP_WEIGHT = 2 ** 32;
    /// @notice Saturation bound of credibility weights and group products (see docs/poc-rules.md).
    uint256 public constant WEIGHT_CAP = 2 ** 120;

    uint256 public constant MAX_REPLICAS = 32;
    uint256 public constant MAX_TRUST = 1e9;
    uint256 public constant MAX_INPUT_BYTES = 4096;
    uint256 public constant NUM_CATEGORIES = 4;

    /// @notice Deadlines, in multiples of the category time reference T (blocks).
    uint256 public constant ASSIGN_T = 2; // an assignment must be contributed within 2T
    uint256 public constant CONTRIBUTION_T = 7; // contributions until created + 7T
    uint256 public constant REVEAL_T = 2; // reveals within 2T of consensus
    uint256 public constant FINAL_T = 10; // final deadline created + 10T

    /// @notice Bounded work per system call.
    uint256 public constant SCHEDULE_SCAN = 128; // open tasks examined per schedule()
    uint256 public constant FINALIZE_SCAN = 128; // open tasks examined per finalize()
    uint256 public constant CALLBACK_GAS = 200_000;

    /// @notice Gas rule of the system calls: upper bounds of each step's cost, checked BEFORE the
    ///         step, so a system call never runs out of gas whatever the open tasks are. A call
    ///         that stops early leaves its cursor on the first task it did not examine.
    uint256 public constant POOL_GAS = 3_600_000; // Staking.eligible + scores + offers at MAX_EXECUTORS (3.16M measured)
    uint256 public constant TASK_GAS = 80_000; // examining one task, fixed part
    uint256 public constant CANDIDATE_GAS = 4_000; // weighing one candidate for a task
    uint256 public constant DRAW_GAS = 130_000; // one draw: lock, assignment, event, round state
    uint256 public constant WALK_GAS = 200; // one candidate stepped over by a draw
    uint256 public constant SETTLE_GAS = 150_000; // settling one task, fixed part
    uint256 public constant SETTLE_GAS_PER_ASSIGNEE = 80_000; // unlock/slash/pay one assignee

    /// @notice Least reward (escrow minus fees) per possible replica: a request pays for every
    ///         executor it may lock, so flooding the market with tasks is never free.
    uint256 public constant MIN_REWARD_PER_REPLICA = 1e15;
    /// @notice Part of the lock an executor loses when its assignment expires without a contribution.
    uint256 public constant EXPIRY_PENALTY = LOCK_PER_TASK / 2;
    /// @notice Request flag: one executor may meet the trust alone (its weight is not capped).
    uint8 public constant FLAG_SOLO = 1;

    /// @notice Executor offers (`setOffer`): an ask per category, in wei per task replica, stored in
    ///         steps of ASK_UNIT (48 bits each), and a capacity: how many open assignments (assigned,
    ///         not yet settled nor declined: the life of a stake lock) the executor takes at once.
    uint256 public constant ASK_UNIT = 1 gwei;
    uint256 public constant MAX_ASK = (2 ** 48 - 1) * ASK_UNIT;
    uint256 public constant MAX_CAPACITY = 64;
    /// @notice Capacity of an executor that never called setOffer (its asks are 0).
    uint256 public constant DEFAULT_CAPACITY = 8;

    uint8 public constant STATUS_NONE = 0;
    uint8 public constant STATUS_ACTIVE = 1; // scheduling and contributions
    uint8 public constant STATUS_REVEALING = 2; // consensus reached on a result hash
    uint8 public constant STATUS_COMPLETED = 3;
    uint8 public constant STATUS_FAILED = 4; // refunded

    uint8 public constant A_NONE = 0;
    uint8 public constant A_ASSIGNED = 1;
    uint8 public constant A_CONTRIBUTED = 2;
    uint8 public constant A_REVEALED = 3;
    uint8 public constant A_DECLINED = 4; // given up in time: lock released, nothing lost

    uint8 public constant PAY_REWARD = 0;
    uint8 public constant PAY_APP_FEE = 1;
    uint8 public constant PAY_DATASET_FEE = 2;
    uint8 public constant PAY_POOL_FEE = 3;

    /// @notice Private pools: most a pool owner takes from the executors' reward (basis points).
    uint256 public constant MAX_POOL_FEE_BPS = 2000;

    // ------------------------------------------------------------------ storage

    /// @notice Reputation score of an executor. MUST stay the first state variable (slot 0):
    ///         genesis tooling and tests address it by slot.
    mapping(address => uint256) public score;

    struct Asset {
        address owner;
        uint8 category; // apps only
        uint256 price;
        string uri;
    }

    /// A job: one request (a bag of `count` tasks with consecutive ids from `firstTask`). What the
    /// tasks share lives here, written once per request, so a task costs one storage slot to create.
    struct Job {
        address requester;
        uint8 category;
        uint8 minReplicas;
        uint8 maxReplicas;
        uint8 flags; // FLAG_*
        uint32 trust;
        uint32 count;
        uint64 createdAt;
        uint64 contributionDeadline;
        uint64 finalDeadline;
        uint64 firstTask;
        address callback;
        uint64 pool; // 0: any executor; else only members of this private pool
        bytes32 app;
        bytes32 dataset;
        uint256 escrow; // per task
        uint256 appFee; // per task
        uint256 datasetFee; // per task
        uint256 poolFee; // per task, to the pool's owner on completion
    }

    /// One task's own state (the first slot is all a new task writes).
    struct Task {
        uint8 status;
        uint16 assignedCount;
        uint16 contributedCount;
        uint16 roundOpen; // current-round assignments not yet contributed nor declined
        uint16 winnerCount; // contributors of the consensus hash
        uint16 revealCount;
        uint32 openPos; // 1-based position in `open`, 0 once settled
        uint64 job;
        uint64 revealDeadline;
        uint64 roundExpiry;
        uint64 consensusAt; // block of consensus, 0 before
        uint256 groups; // sum of group weights (the vote's total is 1 + groups)
        uint256 bestGroup; // heaviest group weight
        bytes32 consensusHash;
        bytes32 result;
    }

    /// getTask's answer: a task with its job's fields, flat.
    struct TaskView {
        address requester;
        uint8 status;
        uint8 category;
        uint8 minReplicas;
        uint8 maxReplicas;
        uint32 trust;
        uint16 assignedCount;
        uint16 contributedCount;
        uint16 roundOpen;
        uint16 winnerCount;
        uint16 revealCount;
        uint64 createdAt;
        uint64 contributionDeadline;
        uint64 revealDeadline;
        uint64 finalDeadline;
        uint64 roundExpiry;
        uint64 consensusAt;
        uint8 flags;
        address callback;
        bytes32 app;
        bytes32 dataset;
        uint256 escrow;
        uint256 appFee;
        uint256 datasetFee;
        uint256 total; // 1 + sum of group weights
        uint256 bestGroup;
        bytes32 consensusHash;
        bytes32 result;
        uint256 job;
        uint256 pool;
        uint256 poolFee;
    }

    struct Assignment {
        uint8 status;
        uint8 logWeight;
        uint64 expiry;
        uint256 weight;
        bytes32 resultHash;
        bytes32 resultSeal;
    }

    mapping(bytes32 => Asset) internal apps;
    mapping(bytes32 => Asset) internal datasets;
    uint256 public taskCount;
    uint256 public jobCount;
    mapping(uint256 => Job) internal jobs;
    mapping(uint256 => Task) internal tasks;
    mapping(uint256 => bytes) internal inputs;
    mapping(uint256 => address[]) internal assignees;
    mapping(uint256 => mapping(address => Assignment)) internal assignments;
    mapping(uint256 => bytes32[]) internal voteHashes;
    mapping(uint256 => mapping(bytes32 => uint256)) internal groupWeight;
    mapping(uint256 => mapping(bytes32 => uint256)) internal groupSize;
    mapping(address => uint256) public withdrawable;
    /// Dataset rules: once its owner lists an app, a dataset may only be used with listed apps.
    mapping(bytes32 => bool) public datasetRestricted;
    mapping(bytes32 => mapping(bytes32 => bool)) public datasetAllowsApp;

    uint256[] internal open;
    uint256 public scheduleCursor;
    uint256 public finalizeCursor;
    /// Offers, one slot per executor: bits 0..15 capacity (0: never declared), then the ask of
    /// category c in ASK_UNIT at bits 16 + 48c. One cold read per executor when the pool loads.
    mapping(address => uint256) internal offers;

    /// A private pool: its owner lists executors (`setPoolMember`), each listed executor may join
    /// (`joinPool`; one pool at a time, kept in bits 208.. of its offer), and a request may be
    /// restricted to the pool's members. The owner takes feeBps of the executors' reward.
    struct PoolInfo {
        address owner;
        uint16 feeBps;
    }

    uint256 public poolCount;
    mapping(uint256 => PoolInfo) internal pools;
    mapping(uint256 => mapping(address => bool)) public poolAllows;

    // ------------------------------------------------------------------ events

    event AppRegistered(bytes32 indexed app, address indexed owner, uint256 price, uint8 category, string uri);
    event DatasetRegistered(bytes32 indexed dataset, address indexed owner, uint256 price, string uri);
    event PriceChanged(bytes32 indexed asset, uint256 price);
    event DatasetAppAllowed(bytes32 indexed dataset, bytes32 indexed app, bool allowed);
    event TaskRequested(
        uint256 indexed taskId,
        address indexed requester,
        bytes32 indexed app,
        bytes32 dataset,
        uint256 escrow,
        uint256 trust,
        uint256 finalDeadline
    );
    event TaskAssigned(uint256 indexed taskId, address indexed executor, uint256 expiry);
    event Contributed(uint256 indexed taskId, address indexed executor, bytes32 resultHash, uint256 weight);
    event ConsensusReached(uint256 indexed taskId, bytes32 resultHash, uint256 revealDeadline);
    event Revealed(uint256 indexed taskId, address indexed executor, bytes32 digest);
    event Declined(uint256 indexed taskId, address indexed executor);
    event TaskFinalized(uint256 indexed taskId, bytes32 digest, uint8 status);
    event Paid(uint256 indexed taskId, address indexed to, uint256 amount, uint8 kind);
    event Slashed(uint256 indexed taskId, address indexed executor, uint256 amount, uint256 newScore);
    event ScoreChanged(address indexed executor, uint256 score);
    event Refunded(uint256 indexed taskId, address indexed requester, uint256 amount);
    event CallbackResult(uint256 indexed taskId, address indexed callback, bool ok);
    event Withdrawal(address indexed to, uint256 amount);
    event OfferSet(address indexed executor, uint256[4] asks, uint256 capacity);
    event PoolCreated(uint256 indexed pool, address indexed owner, uint256 feeBps);
    event PoolMemberSet(uint256 indexed pool, address indexed executor, bool allowed);
    event PoolJoined(address indexed executor, uint256 indexed pool);

    // ------------------------------------------------------------------ errors

    error NotSystem(address caller);
    error OnlyStaking(address caller);
    error EmptyHash();
    error AlreadyRegistered(bytes32 hash);
    error UnknownApp(bytes32 app);
    error UnknownDataset(bytes32 dataset);
    error AppNotAllowed(bytes32 dataset, bytes32 app);
    error NotOwner(bytes32 asset, address caller);
    error InvalidCategory(uint256 category);
    error InvalidTrust(uint256 trust);
    error InvalidReplicas(uint256 minReplicas, uint256 maxReplicas);
    error InputTooLarge(uint256 length, uint256 max);
    error PriceAboveMax(uint256 fees, uint256 maxPrice);
    error InsufficientPayment(uint256 value, uint256 required);
    error InvalidFlags(uint256 flags);
    error EmptyBag();
    error BagTooLarge(uint256 count, uint256 max);
    error UnevenEscrow(uint256 value, uint256 count);
    error UnknownTask(uint256 taskId);
    error TaskNotActive(uint256 taskId, uint8 status);
    error TaskNotRevealing(uint256 taskId, uint8 status);
    error NotAssigned(uint256 taskId, address executor);
    error AlreadyContributed(uint256 taskId, address executor);
    error AssignmentExpired(uint256 taskId, uint256 expiry);
    error NotContributor(uint256 taskId, address executor);
    error AlreadyRevealed(uint256 taskId, address executor);
    error RevealTooLate(uint256 taskId, uint256 revealDeadline);
    error NotInConsensus(uint256 taskId, bytes32 resultHash, bytes32 consensusHash);
    error CommitmentMismatch(uint256 taskId);
    error TaskClosed(uint256 taskId, uint8 status);
    error ClaimTooEarly(uint256 taskId, uint256 finalDeadline);
    error NothingToWithdraw();
    error TransferFailed();
    error InvalidAsk(uint256 category, uint256 ask);
    error InvalidCapacity(uint256 capacity, uint256 max);
    error InvalidPoolFee(uint256 feeBps, uint256 max);
    error UnknownPool(uint256 pool);
    error NotPoolOwner(uint256 pool, address caller);
    error NotInvited(uint256 pool, address executor);

    modifier onlySystem() {
        if (msg.sender != SYSTEM_ADDRESS) revert NotSystem(msg.sender);
        _;
    }

    /// @notice Accepts only seized stake sent by Staking.slash.
    receive() external payable {
        if (msg.sender != STAKING) revert OnlyStaking(msg.sender);
    }

    // ------------------------------------------------------------------ pure rules

    /// @notice Time reference T (blocks) of a category.
    function categoryTime(uint256 category) public pure returns (uint256) {
        if (category == 0) return 5;
        if (category == 1) return 20;
        if (category == 2) return 60;
        if (category == 3) return 240;
        revert InvalidCategory(category);
    }

    /// @notice Credibility weight of a score: max(score/3, 3) − 1, capped at WEIGHT_CAP.
    function weightOf(uint256 s) public pure returns (uint256) {
        uint256 q = s / 3;
        if (q < 3) q = 3;
        uint256 w = q - 1;
        return w > WEIGHT_CAP ? WEIGHT_CAP : w;
    }

    /// @notice a·b saturated at WEIGHT_CAP (inputs are ≤ WEIGHT_CAP).
    function mulCap(uint256 a, uint256 b) public pure returns (uint256) {
        if (a == 0 || b == 0) return 0;
        if (b > WEIGHT_CAP / a) return WEIGHT_CAP;
        uint256 p = a * b;
        return p > WEIGHT_CAP ? WEIGHT_CAP : p;
    }

    /// @notice floor(log2(w)), at least 1: a winner's share of the reward.
    function logWeight(uint256 w) public pure returns (uint8) {
        uint8 l;
        while (w > 1) {
            w >>= 1;
            ++l;
        }
        return l == 0 ? 1 : l;
    }

    /// @notice Credibility weight of an executor on a task: w(score), capped at trust − 1 when the
    ///         trust is ≥ 3 and the requester did not allow a solo executor, so that no single
    ///         executor meets the trust alone (w·trust > (1 + w)(trust − 1) needs w ≥ trust).
    ///         Trust 1 and 2 are met by one newcomer anyway: asking for them is allowing it.
    function taskWeight(uint256 s, uint256 trust, uint256 flags) public pure returns (uint256 w) {
        w = weightOf(s);
        if (flags & FLAG_SOLO == 0 && trust >= 3 && w >= trust) w = trust - 1;
    }

    /// @notice Sampling weight: stake units (capped) × reputation weight (capped).
    function sampleWeight(uint256 freeStake, uint256 s) public pure returns (uint256) {
        uint256 units = freeStake / STAKE_UNIT;
        if (units > MAX_STAKE_UNITS) units = MAX_STAKE_UNITS;
        uint256 w = weightOf(s);
        if (w > MAX_SAMPLE_REP_WEIGHT) w = MAX_SAMPLE_REP_WEIGHT;
        return units * w;
    }

    /// @notice Reward per replica of a task: (escrow − fees) / maxReplicas, rounded down. The
    ///         scheduler draws only executors whose ask is at most this, and every winner is paid
    ///         at least this (docs/poc-rules.md, Settlement), so a winner is paid at least its ask.
    function rewardPerReplica(uint256 escrow, uint256 fees, uint256 maxReplicas) public pure returns (uint256) {
        return (escrow - fees) / maxReplicas;
    }

    // ------------------------------------------------------------------ registry

    /// @notice Register an app (keccak256 of its wasm bytes); its category sets the task time T.
    function registerApp(bytes32 app, uint256 price, uint8 category, string calldata uri) external {
        if (app == bytes32(0)) revert EmptyHash();
        if (apps[app].owner != address(0)) revert AlreadyRegistered(app);
        if (category >= NUM_CATEGORIES) revert InvalidCategory(category);
        apps[app] = Asset(msg.sender, category, price, uri);
        emit AppRegistered(app, msg.sender, price, category, uri);
    }

    /// @notice Register a dataset (keccak256 of its bytes).
    function registerDataset(bytes32 dataset, uint256 price, string calldata uri) external {
        if (dataset == bytes32(0)) revert EmptyHash();
        if (datasets[dataset].owner != address(0)) revert AlreadyRegistered(dataset);
        datasets[dataset] = Asset(msg.sender, 0, price, uri);
        emit DatasetRegistered(dataset, msg.sender, price, uri);
    }

    /// @notice Owner changes an app's price (applies to later requests).
    function setAppPrice(bytes32 app, uint256 price) external {
        if (apps[app].owner != msg.sender) revert NotOwner(app, msg.sender);
        apps[app].price = price;
        emit PriceChanged(app, price);
    }

    /// @notice Owner changes a dataset's price (applies to later requests).
    function setDatasetPrice(bytes32 dataset, uint256 price) external {
        if (datasets[dataset].owner != msg.sender) revert NotOwner(dataset, msg.sender);
        datasets[dataset].price = price;
        emit PriceChanged(dataset, price);
    }

    /// @notice Dataset owner allows (or no longer allows) an app to use the dataset. The first call
    ///         restricts the dataset to its allow list for good: a request pairing it with an app
    ///         not on the list is refused (AppNotAllowed). The dataset's price is its fee per use.
    function setDatasetApp(bytes32 dataset, bytes32 app, bool allowed) external {
        if (datasets[dataset].owner != msg.sender) revert NotOwner(dataset, msg.sender);
        datasetRestricted[dataset] = true;
        datasetAllowsApp[dataset][app] = allowed;
        emit DatasetAppAllowed(dataset, app, allowed);
    }

    /// @notice An app's record (owner zero when unknown).
    function getApp(bytes32 app) external view returns (Asset memory) {
        return apps[app];
    }

    /// @notice A dataset's record (owner zero when unknown).
    function getDataset(bytes32 dataset) external view returns (Asset memory) {
        return datasets[dataset];
    }

    // ------------------------------------------------------------------ requester

    /// @notice What a request asks for; shared by every task of a bag.
    /// @param dataset zero for none
    /// @param trust consensus needs credibility > 1 − 1/trust (1 = a single contribution suffices)
    /// @param maxPrice refuse if app + dataset fees (per task) exceed it
    /// @param callback zero for none; receives onTaskResult(taskId, digest) on completion
    /// @param flags FLAG_SOLO: one executor may meet the trust alone
    struct TaskSpec {
        bytes32 app;
        bytes32 dataset;
        uint256 trust;
        uint256 minReplicas;
        uint256 maxReplicas;
        uint256 maxPrice;
        address callback;
        uint256 flags;
    }

    /// @notice Most tasks in one bag (one requestTasks call). A task costs ~70k gas to create
    ///         plus its input's storage, so a full bag of short inputs fits in one block.
    uint256 public constant MAX_BAG = 256;
    /// @notice Most tasks read by one taskResults call.
    uint256 public constant MAX_RESULTS_VIEW = 1024;

    event JobRequested(uint256 indexed jobId, address indexed requester, uint256 firstTaskId, uint256 count, uint256 escrowPerTask);

    /// @notice Request a computation. msg.value is the escrow: app and dataset fees (snapshotted,
    ///         at most `maxPrice`) plus the executors' reward (the rest, at least
    ///         MIN_REWARD_PER_REPLICA per replica of `maxReplicas`).
    /// @param dataset zero for none
    /// @param trust consensus needs credibility > 1 − 1/trust (1 = a single contribution suffices)
    /// @param callback zero for none; receives onTaskResult(taskId, digest) on completion
    function requestTask(
        bytes32 app,
        bytes32 dataset,
        bytes calldata input,
        uint256 trust,
        uint256 minReplicas,
        uint256 maxReplicas,
        uint256 maxPrice,
        address callback
    ) external payable returns (uint256 taskId) {
        TaskSpec memory spec = TaskSpec(app, dataset, trust, minReplicas, maxReplicas, maxPrice, callback, 0);
        if (input.length > MAX_INPUT_BYTES) revert InputTooLarge(input.length, MAX_INPUT_BYTES);
        uint256 jobId = _createJob(spec, msg.value, 1, 0);
        taskId = _createTask(jobId, spec, input, msg.value);
    }

    /// @notice Request a bag of tasks in one transaction: one task per input, each scheduled,
    ///         voted and paid on its own. msg.value is split evenly: each task's escrow is
    ///         msg.value / inputs.length and must meet the same rules as requestTask's.
    ///         Task ids are consecutive from the returned id; the bag is job `jobCount`.
    function requestTasks(TaskSpec calldata spec, bytes[] calldata taskInputs) external payable returns (uint256 firstTaskId) {
        return _requestBag(spec, taskInputs, 0);
    }

    /// @notice requestTasks restricted to the members of private pool `pool`: only they are drawn,
    ///         and the pool's owner takes its fee, feeBps of escrow − app and dataset fees per
    ///         task (snapshotted), on completion. The executors' reward is what is left, and it
    ///         must still be at least MIN_REWARD_PER_REPLICA per replica.
    function requestTasksInPool(TaskSpec calldata spec, bytes[] calldata taskInputs, uint256 pool)
        external
        payable
        returns (uint256 firstTaskId)
    {
        if (pool == 0 || pools[pool].owner == address(0)) revert UnknownPool(pool);
        return _requestBag(spec, taskInputs, pool);
    }

    function _requestBag(TaskSpec calldata spec, bytes[] calldata taskInputs, uint256 pool) private returns (uint256 firstTaskId) {
        uint256 n = taskInputs.length;
        if (n == 0) revert EmptyBag();
        if (n > MAX_BAG) revert BagTooLarge(n, MAX_BAG);
        if (msg.value % n != 0) revert UnevenEscrow(msg.value, n);
        uint256 each = msg.value / n;
        TaskSpec memory s = spec;
        for (uint256 i; i < n; ++i) {
            if (taskInputs[i].length > MAX_INPUT_BYTES) revert InputTooLarge(taskInputs[i].length, MAX_INPUT_BYTES);
        }
        uint256 jobId = _createJob(s, each, n, pool);
        firstTaskId = taskCount + 1;
        for (uint256 i; i < n; ++i) _createTask(jobId, s, taskInputs[i], each);
    }

    /// Refusals of a request (per task escrow `escrow`); returns the snapshotted fees and category.
    function _checkRequest(TaskSpec memory s, uint256 escrow)
        private
        view
        returns (uint256 appFee, uint256 datasetFee, uint8 category)
    {
        Asset storage a = apps[s.app];
        if (a.owner == address(0)) revert UnknownApp(s.app);
        if (s.dataset != bytes32(0)) {
            if (datasets[s.dataset].owner == address(0)) revert UnknownDataset(s.dataset);
            if (datasetRestricted[s.dataset] && !datasetAllowsApp[s.dataset][s.app]) revert AppNotAllowed(s.dataset, s.app);
            datasetFee = datasets[s.dataset].price;
        }
        if (s.trust == 0 || s.trust > MAX_TRUST) revert InvalidTrust(s.trust);
        if (s.minReplicas == 0 || s.minReplicas > s.maxReplicas || s.maxReplicas > MAX_REPLICAS) {
            revert InvalidReplicas(s.minReplicas, s.maxReplicas);
        }
        if (s.flags > FLAG_SOLO) revert InvalidFlags(s.flags);
        appFee = a.price;
        uint256 fees = appFee + datasetFee;
        if (fees > s.maxPrice) revert PriceAboveMax(fees, s.maxPrice);
        uint256 required = fees + s.maxReplicas * MIN_REWARD_PER_REPLICA;
        if (escrow < required) revert InsufficientPayment(escrow, required);
        category = a.category;
    }

    /// Checks a request (per-task escrow `escrow`) and records its job of `count` tasks.
    function _createJob(TaskSpec memory s, uint256 escrow, uint256 count, uint256 pool) private returns (uint256 jobId) {
        (uint256 appFee, uint256 datasetFee, uint8 category) = _checkRequest(s, escrow);
        uint256 poolFee;
        if (pool != 0) {
            uint256 fees = appFee + datasetFee;
            poolFee = ((escrow - fees) * pools[pool].feeBps) / 10_000;
            uint256 required = fees + poolFee + s.maxReplicas * MIN_REWARD_PER_REPLICA;
            if (escrow < required) revert InsufficientPayment(escrow, required);
        }
        jobId = ++jobCount;
        uint256 T = categoryTime(category);
        Job storage j = jobs[jobId];
        j.requester = msg.sender;
        j.category = category;
        j.minReplicas = uint8(s.minReplicas);
        j.maxReplicas = uint8(s.maxReplicas);
        j.flags = uint8(s.flags);
        j.trust = uint32(s.trust);
        j.count = uint32(count);
        j.createdAt = uint64(block.number);
        j.contributionDeadline = uint64(block.number + CONTRIBUTION_T * T);
        j.finalDeadline = uint64(block.number + FINAL_T * T);
        j.firstTask = uint64(taskCount + 1);
        j.callback = s.callback;
        j.app = s.app;
        j.dataset = s.dataset;
        j.escrow = escrow;
        j.appFee = appFee;
        j.datasetFee = datasetFee;
        if (pool != 0) {
            j.pool = uint64(pool);
            j.poolFee = poolFee;
        }
        emit JobRequested(jobId, msg.sender, taskCount + 1, count, escrow);
    }

    function _createTask(uint256 jobId, TaskSpec memory s, bytes calldata input, uint256 escrow) private returns (uint256 taskId) {
        taskId = ++taskCount;
        open.push(taskId);
        Task storage t = tasks[taskId];
        t.status = STATUS_ACTIVE;
        t.job = uint64(jobId);
        t.openPos = uint32(open.length);
        if (input.length > 0) inputs[taskId] = input;
        emit TaskRequested(taskId, msg.sender, s.app, s.dataset, escrow, s.trust, jobs[jobId].finalDeadline);
    }

    /// @notice Settle a task whose final deadline passed (anyone may call): refund when no result
    ///         was revealed, otherwise pay as finalize() would.
    function claim(uint256 taskId) external {
        Task storage t = tasks[taskId];
        if (t.status == STATUS_NONE) revert UnknownTask(taskId);
        if (t.status != STATUS_ACTIVE && t.status != STATUS_REVEALING) revert TaskClosed(taskId, t.status);
        uint256 fd = jobs[t.job].finalDeadline;
        if (block.number <= fd) revert ClaimTooEarly(taskId, fd);
        if (t.status == STATUS_REVEALING && t.revealCount > 0) _complete(taskId, t);
        else _fail(taskId, t);
    }

    /// @notice Withdraw everything credited to the caller (rewards, fees, refunds).
    function withdraw() external {
        uint256 amount = withdrawable[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        withdrawable[msg.sender] = 0;
        emit Withdrawal(msg.sender, amount);
        (bool ok, ) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ------------------------------------------------------------------ executor

    /// @notice Declare the caller's offer: `asks[c]` is the least reward per task replica it
    ///         accepts for category c (a multiple of ASK_UNIT, at most MAX_ASK), `capacity` how many
    ///         open assignments it takes at once (1..MAX_CAPACITY). The scheduler draws it only for
    ///         tasks whose reward per replica, (escrow − fees) / maxReplicas, is at least its ask,
    ///         and only while it holds fewer open assignments than its capacity. Applies from the
    ///         next schedule(); assignments already made are kept.
    function setOffer(uint256[4] calldata asks, uint256 capacity) external {
        if (capacity == 0 || capacity > MAX_CAPACITY) revert InvalidCapacity(capacity, MAX_CAPACITY);
        uint256 packed = capacity;
        for (uint256 c; c < NUM_CATEGORIES; ++c) {
            uint256 a = asks[c];
            if (a % ASK_UNIT != 0 || a > MAX_ASK) revert InvalidAsk(c, a);
            packed |= (a / ASK_UNIT) << (16 + 48 * c);
        }
        offers[msg.sender] = packed | (offers[msg.sender] & ~uint256(POOL_MASK_LOW));
        emit OfferSet(msg.sender, asks, capacity);
    }

    /// @notice An executor's offer: asks per category (wei per replica), capacity (DEFAULT_CAPACITY
    ///         and asks 0 when it never declared one), and whether it declared one.
    function offerOf(address executor) external view returns (uint256[4] memory asks, uint256 capacity, bool declared) {
        uint256 o = offers[executor];
        declared = o & 0xffff != 0;
        capacity = _capacity(o);
        for (uint256 c; c < NUM_CATEGORIES; ++c) asks[c] = _ask(o, c);
    }

    /// Bits of an offer below the pool id (capacity and asks).
    uint256 private constant POOL_MASK_LOW = (1 << 208) - 1;

    // ------------------------------------------------------------------ private pools

    /// @notice Create a private pool owned by the caller, taking `feeBps` (≤ MAX_POOL_FEE_BPS) of
    ///         the executors' reward of each task completed in it. Pool ids start at 1.
    function createPool(uint256 feeBps) external returns (uint256 pool) {
        if (feeBps > MAX_POOL_FEE_BPS) revert InvalidPoolFee(feeBps, MAX_POOL_FEE_BPS);
        pool = ++poolCount;
        pools[pool] = PoolInfo(msg.sender, uint16(feeBps));
        emit PoolCreated(pool, msg.sender, feeBps);
    }

    /// @notice The pool's owner lists (or delists) an executor. A listed executor is a member only
    ///         once it accepts with joinPool; delisting a member removes it from the pool at once
    ///         (its open assignments are kept).
    function setPoolMember(uint256 pool, address executor, bool allowed) external {
        if (pools[pool].owner != msg.sender) revert NotPoolOwner(pool, msg.sender);
        poolAllows[pool][executor] = allowed;
        emit PoolMemberSet(pool, executor, allowed);
        uint256 o = offers[executor];
        if (!allowed && o >> 208 == pool) {
            offers[executor] = o & POOL_MASK_LOW;
            emit PoolJoined(executor, 0);
        }
    }

    /// @notice The caller joins a pool that lists it (leaving the one it was in), or leaves its
    ///         pool with 0. A member still takes public tasks; a task restricted to a pool is
    ///         drawn from its members only.
    function joinPool(uint256 pool) external {
        if (pool != 0) {
            if (pools[pool].owner == address(0)) revert UnknownPool(pool);
            if (!poolAllows[pool][msg.sender]) revert NotInvited(pool, msg.sender);
        }
        offers[msg.sender] = (offers[msg.sender] & POOL_MASK_LOW) | (pool << 208);
        emit PoolJoined(msg.sender, pool);
    }

    /// @notice A pool's owner (zero when unknown) and fee.
    function getPool(uint256 pool) external view returns (PoolInfo memory) {
        return pools[pool];
    }

    /// @notice The pool an executor is a member of (0: none).
    function poolOf(address executor) external view returns (uint256) {
        return offers[executor] >> 208;
    }

    /// Capacity in a packed offer (DEFAULT_CAPACITY when never declared).
    function _capacity(uint256 o) private pure returns (uint256 cap) {
        cap = o & 0xffff;
        if (cap == 0) cap = DEFAULT_CAPACITY;
    }

    /// Ask of category c in a packed offer, in wei per replica.
    function _ask(uint256 o, uint256 c) private pure returns (uint256) {
        return ((o >> (16 + 48 * c)) & (2 ** 48 - 1)) * ASK_UNIT;
    }

    /// @notice Commit a result: resultHash = keccak256(abi.encode(taskId, digest)),
    ///         resultSeal = keccak256(abi.encode(executor, taskId, digest)).
    function contribute(uint256 taskId, bytes32 resultHash, bytes32 resultSeal) external {
        Task storage t = tasks[taskId];
        if (t.status == STATUS_NONE) revert UnknownTask(taskId);
        if (t.status != STATUS_ACTIVE) revert TaskNotActive(taskId, t.status);
        Assignment storage a = assignments[taskId][msg.sender];
        if (a.status == A_NONE) revert NotAssigned(taskId, msg.sender);
        if (a.status != A_ASSIGNED) revert AlreadyContributed(taskId, msg.sender);
        if (block.number > a.expiry) revert AssignmentExpired(taskId, a.expiry);
        if (resultHash == bytes32(0)) revert EmptyHash();

        Job storage j = jobs[t.job];
        uint256 trust = j.trust;
        uint256 w = taskWeight(score[msg.sender], trust, j.flags);
        a.status = A_CONTRIBUTED;
        a.weight = w;
        a.logWeight = logWeight(w);
        a.resultHash = resultHash;
        a.resultSeal = resultSeal;
        t.contributedCount += 1;
        t.roundOpen -= 1; // a live assignment always belongs to the current round

        uint256 g = groupWeight[taskId][resultHash];
        if (g == 0) voteHashes[taskId].push(resultHash);
        uint256 ng = mulCap(g == 0 ? 1 : g, w);
        groupWeight[taskId][resultHash] = ng;
        groupSize[taskId][resultHash] += 1;
        uint256 total = t.groups + ng - g;
        t.groups = total;
        total += 1;
        if (ng > t.bestGroup) t.bestGroup = ng;
        emit Contributed(taskId, msg.sender, resultHash, w);

        // Only this group grew; every other group's credibility fell, so check this one only.
        if (ng * trust > total * (trust - 1)) {
            t.status = STATUS_REVEALING;
            t.consensusHash = resultHash;
            t.winnerCount = uint16(groupSize[taskId][resultHash]);
            t.consensusAt = uint64(block.number);
            uint256 rd = block.number + REVEAL_T * categoryTime(j.category);
            t.revealDeadline = uint64(rd);
            emit ConsensusReached(taskId, resultHash, rd);
        }
    }

    /// @notice Give an assignment up before it expires (the workload cannot run here, or the
    ///         executor is leaving): the lock is released at once, no stake or score is lost, and
    ///         the round can be topped up at once. Letting it expire instead costs EXPIRY_PENALTY.
    function decline(uint256 taskId) external {
        Task storage t = tasks[taskId];
        if (t.status == STATUS_NONE) revert UnknownTask(taskId);
        if (t.status != STATUS_ACTIVE) revert TaskNotActive(taskId, t.status);
        Assignment storage a = assignments[taskId][msg.sender];
        if (a.status == A_NONE) revert NotAssigned(taskId, msg.sender);
        if (a.status != A_ASSIGNED) revert AlreadyContributed(taskId, msg.sender);
        if (block.number > a.expiry) revert AssignmentExpired(taskId, a.expiry);
        a.status = A_DECLINED;
        t.roundOpen -= 1; // a live assignment always belongs to the current round
        IExecutorStaking(STAKING).unlock(msg.sender, LOCK_PER_TASK);
        emit Declined(taskId, msg.sender);
    }

    /// @notice Reveal the digest behind a contribution that matches the consensus hash.
    function reveal(uint256 taskId, bytes32 digest) external {
        Task storage t = tasks[taskId];
        if (t.status == STATUS_NONE) revert UnknownTask(taskId);
        if (t.status != STATUS_REVEALING) revert TaskNotRevealing(taskId, t.status);
        Assignment storage a = assignments[taskId][msg.sender];
        if (a.status == A_REVEALED) revert AlreadyRevealed(taskId, msg.sender);
        if (a.status != A_CONTRIBUTED) revert NotContributor(taskId, msg.sender);
        if (block.number > t.revealDeadline) revert RevealTooLate(taskId, t.revealDeadline);
        if (a.resultHash != t.consensusHash) revert NotInConsensus(taskId, a.resultHash, t.consensusHash);
        if (
            keccak256(abi.encode(taskId, digest)) != a.resultHash ||
            keccak256(abi.encode(msg.sender, taskId, digest)) != a.resultSeal
        ) revert CommitmentMismatch(taskId);
        a.status = A_REVEALED;
        t.revealCount += 1;
        if (t.result == bytes32(0)) t.result = digest;
        emit Revealed(taskId, msg.sender, digest);
    }

    // ------------------------------------------------------------------ system calls

    /// @notice Assign executors to tasks that need them (new, or a round that fell short).
    ///         Examines at most SCHEDULE_SCAN open tasks from a rotating cursor. Gas is checked
    ///         before loading the pool, before each task and before each draw, so the call never
    ///         runs out of gas; it stops instead, and the cursor moves past what was examined.
    function schedule(uint256 randomness) external onlySystem {
        uint256 n = open.length;
        if (n == 0) return;
        uint256 scan = n < SCHEDULE_SCAN ? n : SCHEDULE_SCAN;
        uint256 cursor = scheduleCursor % n;
        Pool memory pool;
        bool loaded;
        uint256 i;
        for (; i < scan; ++i) {
            uint256 id = open[(cursor + i) % n];
            Task storage t = tasks[id];
            if (!_needsAssignment(t)) continue;
            if (!loaded) {
                if (gasleft() < POOL_GAS) break;
                pool = _loadPool();
                loaded = true;
            }
            if (gasleft() < TASK_GAS + pool.addrs.length * CANDIDATE_GAS) break;
            if (!_assign(id, t, pool, randomness)) {
                ++i; // examined, stopped between two draws
                break;
            }
        }
        scheduleCursor = (cursor + i) % n;
    }

    /// @notice Settle tasks whose consensus was revealed or whose deadline passed.
    ///         Examines at most FINALIZE_SCAN open tasks from a rotating cursor; stops before a
    ///         task whose settlement might not fit in the gas left.
    function finalize() external onlySystem {
        uint256 n = open.length;
        if (n == 0) return;
        uint256 scan = n < FINALIZE_SCAN ? n : FINALIZE_SCAN;
        uint256 cursor = finalizeCursor % n;
        uint256[] memory ids = new uint256[](scan);
        for (uint256 i; i < scan; ++i) ids[i] = open[(cursor + i) % n];
        uint256 removed;
        uint256 examined;
        for (; examined < scan; ++examined) {
            uint256 id = ids[examined];
            Task storage t = tasks[id];
            if (gasleft() < SETTLE_GAS + CALLBACK_GAS + assignees[id].length * SETTLE_GAS_PER_ASSIGNEE) break;
            if (t.status == STATUS_REVEALING) {
                if (t.revealCount == t.winnerCount || (block.number > t.revealDeadline && t.revealCount > 0)) {
                    _complete(id, t);
                    ++removed;
                } else if (block.number > t.revealDeadline) {
                    _fail(id, t);
                    ++removed;
                }
            } else if (t.status == STATUS_ACTIVE && block.number > jobs[t.job].finalDeadline) {
                _fail(id, t);
                ++removed;
            }
        }
        uint256 left = n - removed;
        finalizeCursor = left == 0 ? 0 : (cursor + examined - removed) % left;
    }

    // ------------------------------------------------------------------ views

    /// @notice A task's record (status, deadlines, counts, consensus, result).
    function getTask(uint256 taskId) external view returns (TaskView memory v) {
        Task storage t = tasks[taskId];
        Job storage j = jobs[t.job];
        v.requester = j.requester;
        v.status = t.status;
        v.category = j.category;
        v.minReplicas = j.minReplicas;
        v.maxReplicas = j.maxReplicas;
        v.trust = j.trust;
        v.assignedCount = t.assignedCount;
        v.contributedCount = t.contributedCount;
        v.roundOpen = t.roundOpen;
        v.winnerCount = t.winnerCount;
        v.revealCount = t.revealCount;
        v.createdAt = j.createdAt;
        v.contributionDeadline = j.contributionDeadline;
        v.revealDeadline = t.revealDeadline;
        v.finalDeadline = j.finalDeadline;
        v.roundExpiry = t.roundExpiry;
        v.consensusAt = t.consensusAt;
        v.flags = j.flags;
        v.callback = j.callback;
        v.app = j.app;
        v.dataset = j.dataset;
        v.escrow = j.escrow;
        v.appFee = j.appFee;
        v.datasetFee = j.datasetFee;
        v.total = t.status == STATUS_NONE ? 0 : t.groups + 1;
        v.bestGroup = t.bestGroup;
        v.consensusHash = t.consensusHash;
        v.result = t.result;
        v.job = t.job;
        v.pool = j.pool;
        v.poolFee = j.poolFee;
    }

    /// @notice A job (one request: a bag of `count` tasks from `firstTask`); requester zero when unknown.
    function getJob(uint256 jobId) external view returns (Job memory) {
        return jobs[jobId];
    }

    /// @notice The input bytes given to requestTask.
    function taskInput(uint256 taskId) external view returns (bytes memory) {
        return inputs[taskId];
    }

    /// @notice Executors assigned to a task, in assignment order.
    function taskAssignees(uint256 taskId) external view returns (address[] memory) {
        return assignees[taskId];
    }

    /// @notice One executor's assignment and contribution on a task.
    function getAssignment(uint256 taskId, address executor) external view returns (Assignment memory) {
        return assignments[taskId][executor];
    }

    /// @notice Distinct result hashes contributed, with group weight and member count.
    function taskVotes(uint256 taskId)
        external
        view
        returns (bytes32[] memory hashes, uint256[] memory weights, uint256[] memory sizes)
    {
        hashes = voteHashes[taskId];
        weights = new uint256[](hashes.length);
        sizes = new uint256[](hashes.length);
        for (uint256 i; i < hashes.length; ++i) {
            weights[i] = groupWeight[taskId][hashes[i]];
            sizes[i] = groupSize[taskId][hashes[i]];
        }
    }

    /// @notice Status and result of `count` consecutive tasks from `firstTaskId` (a bag's
    ///         results together); ids past the last task read as status 0.
    function taskResults(uint256 firstTaskId, uint256 count)
        external
        view
        returns (uint8[] memory statuses, bytes32[] memory results)
    {
        if (count > MAX_RESULTS_VIEW) revert BagTooLarge(count, MAX_RESULTS_VIEW);
        statuses = new uint8[](count);
        results = new bytes32[](count);
        for (uint256 i; i < count; ++i) {
            Task storage t = tasks[firstTaskId + i];
            statuses[i] = t.status;
            results[i] = t.result;
        }
    }

    /// @notice Ids of unsettled tasks (order changes on removal).
    function openTasks() external view returns (uint256[] memory) {
        return open;
    }

    // ------------------------------------------------------------------ internals: scheduling

    struct Pool {
        address[] addrs;
        uint256[] free;
        uint256[] locked; // LOCK_PER_TASK per open assignment
        uint256[] scores;
        uint256[] offers; // packed, as stored
    }

    function _loadPool() private view returns (Pool memory p) {
        (p.addrs, p.free, p.locked) = IExecutorStaking(STAKING).eligible(LOCK_PER_TASK);
        uint256 n = p.addrs.length;
        p.scores = new uint256[](n);
        p.offers = new uint256[](n);
        for (uint256 i; i < n; ++i) {
            address a = p.addrs[i];
            p.scores[i] = score[a];
            p.offers[i] = offers[a];
        }
    }

    function _needsAssignment(Task storage t) private view returns (bool) {
        if (t.status != STATUS_ACTIVE || (t.roundOpen != 0 && block.number <= t.roundExpiry)) return false;
        Job storage j = jobs[t.job];
        // an assignment always gets its whole window of 2T: one drawn closer to the contribution
        // deadline could not be met and would cost its executor EXPIRY_PENALTY for the queue's delay
        return block.number + ASSIGN_T * categoryTime(j.category) <= j.contributionDeadline && t.assignedCount < j.maxReplicas;
    }

    /// Draws executors one by one until, if all of them agreed with the heaviest group, the task
    /// would reach consensus (and minReplicas is met), or maxReplicas / the pool runs out.
    /// Returns false when it stopped because the gas left could not pay for one more draw; the
    /// executors drawn so far form the round (a short round is topped up like a failed vote).
    /// Candidates: eligible stake, not yet assigned to the task, an open assignment count below
    /// their capacity, and an ask for the task's category at most its reward per replica.
    function _assign(uint256 taskId, Task storage t, Pool memory pool, uint256 randomness) private returns (bool done) {
        Job storage j = jobs[t.job];
        uint256 n = pool.addrs.length;
        uint256[] memory w = new uint256[](n);
        uint256 sum;
        uint256 perReplica = rewardPerReplica(j.escrow, j.appFee + j.datasetFee + j.poolFee, j.maxReplicas);
        uint256 category = j.category;
        uint256 inPool = j.pool;
        for (uint256 i; i < n; ++i) {
            if (pool.free[i] < LOCK_PER_TASK) continue;
            uint256 o = pool.offers[i];
            if (pool.locked[i] >= _capacity(o) * LOCK_PER_TASK) continue;
            if (_ask(o, category) > perReplica) continue;
            if (inPool != 0 && o >> 208 != inPool) continue;
            if (t.assignedCount > 0 && assignments[taskId][pool.addrs[i]].status != A_NONE) continue;
            w[i] = sampleWeight(pool.free[i], pool.scores[i]);
            sum += w[i];
        }
        uint256 trust = j.trust;
        uint256 flags = j.flags;
        uint256 g0 = t.bestGroup == 0 ? 1 : t.bestGroup;
        uint256 bound = (t.groups + 1 - t.bestGroup) * (trust - 1);
        uint256 mustHave = j.minReplicas > t.assignedCount ? j.minReplicas - t.assignedCount : 1;
        uint256 room = j.maxReplicas - t.assignedCount;
        uint256 expiry = block.number + ASSIGN_T * categoryTime(j.category); // ≤ contributionDeadline (_needsAssignment)
        bytes32 seed = keccak256(abi.encode(randomness, taskId));
        uint256 product = 1;
        uint256 count;
        uint256 drawGas = DRAW_GAS + n * WALK_GAS;
        done = true;
        while (count < room && sum > 0) {
            if (count >= mustHave && mulCap(g0, product) > bound) break;
            if (gasleft() < drawGas) {
                done = false;
                break;
            }
            uint256 k = _draw(w, uint256(keccak256(abi.encode(seed, count))) % sum);
            address e = pool.addrs[k];
            sum -= w[k];
            w[k] = 0;
            pool.free[k] -= LOCK_PER_TASK;
            pool.locked[k] += LOCK_PER_TASK;
            product = mulCap(product, taskWeight(pool.scores[k], trust, flags));
            ++count;
            IExecutorStaking(STAKING).lock(e, LOCK_PER_TASK);
            Assignment storage a = assignments[taskId][e];
            a.status = A_ASSIGNED;
            a.expiry = uint64(expiry);
            assignees[taskId].push(e);
            emit TaskAssigned(taskId, e, expiry);
        }
        if (count > 0) {
            t.assignedCount += uint16(count);
            t.roundOpen = uint16(count);
            t.roundExpiry = uint64(expiry);
        }
    }

    /// Index of the weight interval that contains r (r < sum of w).
    function _draw(uint256[] memory w, uint256 r) private pure returns (uint256 k) {
        while (r >= w[k]) {
            r -= w[k];
            ++k;
        }
    }

    // ------------------------------------------------------------------ internals: settlement

    /// Each winner (revealed the consensus) gets the reward per replica; what is left of escrow −
    /// fees + seized stakes is shared ∝ logWeight, and the first winner in assignment order takes
    /// the rounding remainder. Contributors who did not reveal
    /// (losers and silent members of the consensus group) lose their lock and a third of their
    /// score. Assigned executors who let their assignment expire before consensus lose
    /// EXPIRY_PENALTY and a third of their score; those cut short by consensus get their lock back.
    /// A winner's score grows only on a paid, replicated task it did not request itself.
    function _complete(uint256 taskId, Task storage t) private {
        address[] storage list = assignees[taskId];
        uint256 n = list.length;
        Job storage j = jobs[t.job];
        uint256 pool = j.escrow - j.appFee - j.datasetFee - j.poolFee;
        uint256 base = pool / j.maxReplicas; // rewardPerReplica
        uint256 sumLog;
        uint256 winners;
        for (uint256 i; i < n; ++i) {
            address e = list[i];
            Assignment storage a = assignments[taskId][e];
            if (a.status == A_REVEALED) {
                sumLog += a.logWeight;
                ++winners;
                IExecutorStaking(STAKING).unlock(e, LOCK_PER_TASK);
            } else if (a.status == A_CONTRIBUTED) {
                pool += _penalise(taskId, e);
            } else if (a.status == A_DECLINED) {
                continue; // its lock was released by decline()
            } else if (t.consensusAt > a.expiry) {
                pool += _penaliseExpired(taskId, e);
            } else {
                IExecutorStaking(STAKING).unlock(e, LOCK_PER_TASK);
            }
        }
        bool replicated = t.contributedCount > 1;
        uint256 bonus = pool - base * winners; // winners ≤ assigned ≤ maxReplicas
        uint256 paid;
        address first;
        for (uint256 i; i < n; ++i) {
            address e = list[i];
            Assignment storage a = assignments[taskId][e];
            if (a.status != A_REVEALED) continue;
            if (first == address(0)) first = e;
            uint256 share = base + (bonus * a.logWeight) / sumLog;
            paid += share;
            withdrawable[e] += share;
            emit Paid(taskId, e, share, PAY_REWARD);
            if (replicated && share >= MIN_REWARD_PER_REPLICA && e != j.requester) {
                uint256 s = score[e] + 1;
                score[e] = s;
                emit ScoreChanged(e, s);
            }
        }
        if (pool > paid) {
            withdrawable[first] += pool - paid;
            emit Paid(taskId, first, pool - paid, PAY_REWARD);
        }
        if (j.appFee > 0) {
            address owner = apps[j.app].owner;
            withdrawable[owner] += j.appFee;
            emit Paid(taskId, owner, j.appFee, PAY_APP_FEE);
        }
        if (j.datasetFee > 0) {
            address owner = datasets[j.dataset].owner;
            withdrawable[owner] += j.datasetFee;
            emit Paid(taskId, owner, j.datasetFee, PAY_DATASET_FEE);
        }
        if (j.poolFee > 0) {
            address owner = pools[j.pool].owner;
            withdrawable[owner] += j.poolFee;
            emit Paid(taskId, owner, j.poolFee, PAY_POOL_FEE);
        }
        t.status = STATUS_COMPLETED;
        _removeOpen(taskId);
        emit TaskFinalized(taskId, t.result, STATUS_COMPLETED);
        _callback(taskId, j.callback, t.result);
    }

    /// No result: the requester gets the escrow back, plus the locks of consensus-group members
    /// who never revealed and the expiry penalties of silent assignees (both penalised as above).
    /// Everyone else's lock is released.
    function _fail(uint256 taskId, Task storage t) private {
        address[] storage list = assignees[taskId];
        uint256 n = list.length;
        Job storage j = jobs[t.job];
        uint256 refund = j.escrow;
        bytes32 ch = t.consensusHash;
        for (uint256 i; i < n; ++i) {
            address e = list[i];
            Assignment storage a = assignments[taskId][e];
            if (ch != bytes32(0) && a.status == A_CONTRIBUTED && a.resultHash == ch) {
                refund += _penalise(taskId, e);
            } else if (a.status == A_DECLINED) {
                continue; // its lock was released by decline()
            } else if (a.status == A_ASSIGNED && (t.consensusAt == 0 || t.consensusAt > a.expiry)) {
                refund += _penaliseExpired(taskId, e);
            } else {
                IExecutorStaking(STAKING).unlock(e, LOCK_PER_TASK);
            }
        }
        withdrawable[j.requester] += refund;
        emit Refunded(taskId, j.requester, refund);
        t.status = STATUS_FAILED;
        _removeOpen(taskId);
        emit TaskFinalized(taskId, bytes32(0), STATUS_FAILED);
    }

    function _penalise(uint256 taskId, address e) private returns (uint256 seized) {
        seized = IExecutorStaking(STAKING).slash(e, LOCK_PER_TASK);
        uint256 s = (score[e] * 2) / 3;
        score[e] = s;
        emit Slashed(taskId, e, seized, s);
    }

    function _penaliseExpired(uint256 taskId, address e) private returns (uint256 seized) {
        seized = IExecutorStaking(STAKING).slash(e, EXPIRY_PENALTY);
        IExecutorStaking(STAKING).unlock(e, LOCK_PER_TASK - EXPIRY_PENALTY);
        uint256 s = (score[e] * 2) / 3;
        score[e] = s;
        emit Slashed(taskId, e, seized, s);
    }

    /// Gas-capped call without copying return data; a revert or out-of-gas is only reported.
    function _callback(uint256 taskId, address target, bytes32 digest) private {
        if (target == address(0)) return;
        bytes memory data = abi.encodeCall(ITaskCallback.onTaskResult, (taskId, digest));
        uint256 gasCap = CALLBACK_GAS;
        bool ok;
        assembly ("memory-safe") {
            ok := call(gasCap, target, 0, add(data, 32), mload(data), 0, 0)
        }
        emit CallbackResult(taskId, target, ok);
    }

    function _removeOpen(uint256 taskId) private {
        Task storage t = tasks[taskId];
        uint256 i = t.openPos;
        if (i == 0) return;
        uint256 last = open.length;
        if (i != last) {
            uint256 moved = open[last - 1];
            open[i - 1] = moved;
            tasks[moved].openPos = uint32(i);
        }
        open.pop();
        t.openPos = 0;
    }
}
