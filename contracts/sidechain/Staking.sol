// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Staking — executor stakes of the pocchain sidechain (system contract at 0x…1000).
/// @notice Executors bond the native coin here; the Hub locks a fixed slice of free stake per task
///         assignment, releases it when the task settles, and seizes it when the executor lost the
///         vote or did not reveal. Unbonding takes UNBONDING_BLOCKS blocks, and only free stake
///         (stake − locked) can be unbonded, so a commitment can never run away from its slash.
/// @dev Deployed in genesis as runtime code only: no constructor state, every parameter is a
///      constant. Reputation scores live in the Hub (they are credibility inputs), not here.
///      The active list is bounded by MAX_EXECUTORS so the Hub's per-block sampling is bounded;
///      when it is full, a larger stake evicts the lowest one.
contract Staking {
    address public constant SYSTEM_ADDRESS = 0xffffFFFfFFffffffffffffffFfFFFfffFFFfFFfE;
    address public constant HUB = 0x0000000000000000000000000000000000001001;

    /// @notice Minimum stake to be in the active list (eligible for sampling).
    uint256 public constant MIN_EXECUTOR_STAKE = 1 ether;
    /// @notice Blocks between requestUnbond and withdrawUnbonded.
    uint256 public constant UNBONDING_BLOCKS = 100;
    /// @notice Bound on the active list (the Hub reads it once per schedule call).
    uint256 public constant MAX_EXECUTORS = 256;

    struct Executor {
        uint256 stake; // bonded, includes `locked`
        uint256 locked; // part of stake held by open task assignments
        uint256 unbonding; // left the stake, waiting for `unbondAt`
        uint64 unbondAt; // block from which `unbonding` can be withdrawn
        uint32 index; // 1-based position in `active`, 0 when not active
    }

    mapping(address => Executor) internal executors;
    address[] internal active;

    event Staked(address indexed executor, uint256 amount, uint256 stake);
    event UnbondRequested(address indexed executor, uint256 amount, uint256 releaseBlock);
    event Withdrawn(address indexed executor, uint256 amount);
    event Activated(address indexed executor);
    event Deactivated(address indexed executor);
    event Evicted(address indexed executor, address indexed by);
    event StakeLocked(address indexed executor, uint256 amount);
    event StakeUnlocked(address indexed executor, uint256 amount);
    event StakeSlashed(address indexed executor, uint256 amount);

    error NotHub(address caller);
    error ZeroAmount();
    error InsufficientFreeStake(uint256 free, uint256 required);
    error NothingToWithdraw();
    error UnbondingNotDue(uint256 releaseBlock);
    error TooManyExecutors(uint256 max);
    error TransferFailed();

    modifier onlyHub() {
        if (msg.sender != HUB) revert NotHub(msg.sender);
        _;
    }

    // ------------------------------------------------------------------ executors

    /// @notice Bond msg.value as executor stake; joins the active list at MIN_EXECUTOR_STAKE
    ///         (evicting the lowest stake when the list is full and this stake is larger).
    function stakeExecutor() external payable {
        if (msg.value == 0) revert ZeroAmount();
        Executor storage e = executors[msg.sender];
        e.stake += msg.value;
        emit Staked(msg.sender, msg.value, e.stake);
        if (e.index == 0 && e.stake >= MIN_EXECUTOR_STAKE) _activate(msg.sender, e);
    }

    /// @notice Move `amount` of free stake to unbonding; withdrawable after UNBONDING_BLOCKS.
    ///         A new request restarts the delay for the whole unbonding amount.
    function requestUnbond(uint256 amount) external {
        if (amount == 0) revert ZeroAmount();
        Executor storage e = executors[msg.sender];
        uint256 free = e.stake - e.locked;
        if (amount > free) revert InsufficientFreeStake(free, amount);
        e.stake -= amount;
        e.unbonding += amount;
        uint256 release = block.number + UNBONDING_BLOCKS;
        e.unbondAt = uint64(release);
        emit UnbondRequested(msg.sender, amount, release);
        if (e.index != 0 && e.stake < MIN_EXECUTOR_STAKE) _deactivate(msg.sender, e);
    }

    /// @notice Withdraw the unbonded amount once its delay passed.
    function withdrawUnbonded() external {
        Executor storage e = executors[msg.sender];
        uint256 amount = e.unbonding;
        if (amount == 0) revert NothingToWithdraw();
        if (block.number < e.unbondAt) revert UnbondingNotDue(e.unbondAt);
        e.unbonding = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok, ) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    // ------------------------------------------------------------------ Hub only

    /// @notice Hold `amount` of the executor's free stake for a task assignment.
    function lock(address executor, uint256 amount) external onlyHub {
        Executor storage e = executors[executor];
        uint256 free = e.stake - e.locked;
        if (amount > free) revert InsufficientFreeStake(free, amount);
        e.locked += amount;
        emit StakeLocked(executor, amount);
    }

    /// @notice Release a lock taken by `lock` (task settled in the executor's favour or unused).
    function unlock(address executor, uint256 amount) external onlyHub {
        Executor storage e = executors[executor];
        uint256 a = amount > e.locked ? e.locked : amount;
        e.locked -= a;
        emit StakeUnlocked(executor, a);
    }

    /// @notice Seize up to `amount` of the executor's locked stake and send it to the Hub.
    /// @return seized the amount actually taken (bounded by the lock).
    function slash(address executor, uint256 amount) external onlyHub returns (uint256 seized) {
        Executor storage e = executors[executor];
        seized = amount > e.locked ? e.locked : amount;
        if (seized == 0) return 0;
        e.locked -= seized;
        e.stake -= seized;
        emit StakeSlashed(executor, seized);
        if (e.index != 0 && e.stake < MIN_EXECUTOR_STAKE) _deactivate(executor, e);
        (bool ok, ) = payable(HUB).call{value: seized}("");
        if (!ok) revert TransferFailed();
    }

    // ------------------------------------------------------------------ views

    /// @notice Bonded stake of an executor (locked part included).
    function stakeOf(address executor) external view returns (uint256) {
        return executors[executor].stake;
    }

    /// @notice Stake not held by task assignments.
    function freeStakeOf(address executor) external view returns (uint256) {
        Executor storage e = executors[executor];
        return e.stake - e.locked;
    }

    /// @notice Full record of an executor.
    function executorInfo(address executor)
        external
        view
        returns (uint256 stake, uint256 locked, uint256 unbonding, uint256 unbondAt, bool isActive)
    {
        Executor storage e = executors[executor];
        return (e.stake, e.locked, e.unbonding, e.unbondAt, e.index != 0);
    }

    /// @notice Number of active executors.
    function activeCount() external view returns (uint256) {
        return active.length;
    }

    /// @notice Active executor at position i (0-based); order changes on removal (swap-and-pop).
    function activeAt(uint256 i) external view returns (address) {
        return active[i];
    }

    /// @notice All active executors, in list order.
    function activeExecutors() external view returns (address[] memory) {
        return active;
    }

    /// @notice Active executors whose free stake is at least `minFree`, with their free and
    ///         locked stakes, in list order. The Hub samples from this (the lock, one
    ///         LOCK_PER_TASK per open assignment, is how it counts an executor's capacity in use).
    function eligible(uint256 minFree)
        external
        view
        returns (address[] memory addrs, uint256[] memory free, uint256[] memory locked)
    {
        uint256 n = active.length;
        addrs = new address[](n);
        free = new uint256[](n);
        locked = new uint256[](n);
        uint256 k;
        for (uint256 i; i < n; ++i) {
            address a = active[i];
            Executor storage e = executors[a];
            uint256 l = e.locked;
            uint256 f = e.stake - l;
            if (f >= minFree) {
                addrs[k] = a;
                free[k] = f;
                locked[k] = l;
                ++k;
            }
        }
        assembly ("memory-safe") {
            mstore(addrs, k)
            mstore(free, k)
            mstore(locked, k)
        }
    }

    // ------------------------------------------------------------------ internals

    /// A full list makes room by evicting its lowest stake (the first such entry in list order),
    /// if the newcomer's stake is strictly larger: a list filled with minimum stakes cannot lock
    /// out better-staked executors. The evicted executor keeps its stake and locks; it rejoins
    /// when it stakes more than the list's lowest.
    function _activate(address a, Executor storage e) private {
        if (active.length >= MAX_EXECUTORS) {
            uint256 low;
            uint256 lowStake = type(uint256).max;
            for (uint256 i; i < active.length; ++i) {
                uint256 st = executors[active[i]].stake;
                if (st < lowStake) {
                    lowStake = st;
                    low = i;
                }
            }
            if (e.stake <= lowStake) revert TooManyExecutors(MAX_EXECUTORS);
            address out = active[low];
            _deactivate(out, executors[out]);
            emit Evicted(out, a);
        }
        active.push(a);
        e.index = uint32(active.length);
        emit Activated(a);
    }

    function _deactivate(address a, Executor storage e) private {
        uint256 i = e.index - 1;
        uint256 last = active.length - 1;
        if (i != last) {
            address moved = active[last];
            active[i] = moved;
            executors[moved].index = uint32(i + 1);
        }
        active.pop();
        e.index = 0;
        emit Deactivated(a);
    }
}
