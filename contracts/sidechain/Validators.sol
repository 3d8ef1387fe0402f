// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Validators — the open validator set of the pocchain sidechain (system contract at 0x…1003).
/// @notice Anyone bonds the native coin for an ed25519 consensus key (`bytes32 key`), naming a BLS
///         key with its proof of possession and an operator address (secp256k1: L1 checkpoint
///         signer and coinbase). At every epoch boundary the node calls `closeEpoch`, which jails
///         set members that missed too many blocks and selects the next set: the top
///         `maxValidators` confirmed, unjailed candidates with at least `minStake`, power =
///         stake / POWER_UNIT. Committed double-sign evidence is applied with `slash` (a share of
///         stake + unbonding, kept here forever, and a jail). Unbonding coins stay slashable until
///         withdrawn.
/// @dev Deployed in genesis as runtime code only: no constructor state, everything is set by
///      `initialize`. The system calls (`initialize`, `confirmKeys`, `noteMissed`, `slash`,
///      `closeEpoch`) run inside block execution: apart from NotSystem and a second initialize
///      they never revert, and every loop is bounded (MAX_CANDIDATES, MAX_SET, the calldata).
///      Invariant: address(this).balance == Σ(stake + unbonding) + slashedTotal + refundsTotal (coins can only
///      come in through bond / addStake / initialize's pre-credit; there is no receive()).
///      When no candidate is eligible at an epoch boundary the current set is kept unchanged:
///      the chain must never stop for want of validators.
contract Validators {
    address public constant SYSTEM_ADDRESS = 0xffffFFFfFFffffffffffffffFfFFFfffFFFfFFfE;

    /// @notice power = stake / POWER_UNIT (integer).
    uint256 public constant POWER_UNIT = 1 ether;
    /// @notice Largest active set.
    uint256 public constant MAX_SET = 200;
    /// @notice Largest candidate list (bounds closeEpoch and pendingKeys).
    uint256 public constant MAX_CANDIDATES = 512;
    /// @notice Most keys pendingKeys returns at once.
    uint256 public constant MAX_PENDING_CHECKS = 64;
    uint256 public constant BLS_PUBKEY_BYTES = 48;
    uint256 public constant BLS_POP_BYTES = 96;
    uint256 public constant BPS = 10_000;

    uint8 public constant KEY_PENDING = 0;
    uint8 public constant KEY_CONFIRMED = 1;
    uint8 public constant KEY_REJECTED = 2;
    uint8 public constant JAIL_DOUBLE_SIGN = 1;
    uint8 public constant JAIL_DOWNTIME = 2;

    struct Params {
        uint64 epochLength; // blocks per epoch (the node calls closeEpoch at heights that are multiples)
        uint32 maxValidators; // N: top N eligible candidates by stake form the set (<= MAX_SET)
        uint256 minStake; // least stake to be eligible (>= POWER_UNIT)
        uint64 unbondingBlocks; // delay between unbond and withdraw
        uint32 slashBps; // share of (stake + unbonding) taken by a double-sign slash (<= BPS)
        uint64 jailBlocks; // blocks before a jailed validator may unjail
        uint32 downtimeBps; // a member that missed more than downtimeBps/BPS of an epoch's blocks is jailed
    }

    struct GenesisValidator {
        bytes32 key;
        address owner;
        address operator;
        bytes blsPubKey;
        bytes blsPop;
        uint256 stake;
    }

    /// Storage layout (gas of closeEpoch at MAX_CANDIDATES): selection reads one slot per
    /// candidate (stake, keyStatus, jailed); the downtime check and the set write touch one more
    /// per member, which is never zero after bond (missedEpoch starts at NEVER), so the write
    /// costs a warm update rather than a new slot. A stake fits 128 bits (3.4e20 coins).
    struct Validator {
        uint128 stake;
        uint8 keyStatus;
        bool jailed;
        uint32 index; // 1-based position in `_candidates`, 0 when the record does not exist
        uint64 jailedUntil;
        address owner;
        uint64 unbondAt;
        address operator;
        uint64 activeEpoch; // epoch + 1 of the last set this key was selected into
        uint64 power; // power in that set
        uint64 missed; // blocks missed in epoch `missedEpoch`
        uint64 missedEpoch;
        uint256 unbonding;
        uint256 slashed; // total taken from this key
        bytes blsPubKey;
        bytes blsPop;
        bytes keySig; // ed25519 signature by `key` over bondDigest (checked by the node)
    }

    /// missedEpoch of a key that never missed a block.
    uint64 private constant NEVER = type(uint64).max;

    Params internal _params;
    bool public initialized;
    uint256 public epoch;
    uint256 public slashedTotal;
    mapping(bytes32 => Validator) internal _validators;
    bytes32[] internal _candidates;
    bytes32[] internal _setKeys; // powers: _validators[key].power
    mapping(bytes32 => bool) public evidenceUsed;
    /// Coins of records released because the node rejected their keys, by owner (claimRefund).
    mapping(address => uint256) public refunds;
    uint256 public refundsTotal;

    /// What a bond's consensus key signs: proves the bonder holds the key it names, so no one can
    /// take another node's key (the EVM has no ed25519: the node checks it with the BLS proof).
    bytes32 public constant BOND_TYPEHASH =
        keccak256("pocchain.Validators.bond(uint256 chainId,address validators,bytes32 key,address owner,address operator,bytes32 blsPubKeyHash)");
    uint256 public constant KEY_SIG_BYTES = 64;

    event Initialized(Params params, uint256 validators, uint256 totalStake);
    event Bonded(bytes32 indexed key, address indexed owner, address operator, uint256 amount);
    event StakeAdded(bytes32 indexed key, uint256 amount, uint256 stake);
    event UnbondRequested(bytes32 indexed key, uint256 amount, uint256 releaseBlock);
    event Withdrawn(bytes32 indexed key, uint256 amount);
    event Removed(bytes32 indexed key);
    event Released(bytes32 indexed key, address indexed owner, uint256 amount);
    event Refunded(address indexed owner, uint256 amount);
    event Unjailed(bytes32 indexed key);
    event KeyChecked(bytes32 indexed key, uint8 status);
    event Slashed(bytes32 indexed key, uint256 amount, bytes32 evidenceHash);
    event Jailed(bytes32 indexed key, uint256 until, uint8 reason);
    event EpochChanged(uint256 indexed epoch, bytes32[] keys, uint256[] powers);

    error NotSystem(address caller);
    error AlreadyInitialized();
    error BadParams();
    error KeyTaken(bytes32 key);
    error BadBlsKey();
    error ZeroAddress();
    error ZeroAmount();
    error TooManyCandidates(uint256 max);
    error UnknownValidator(bytes32 key);
    error NotOwner(bytes32 key, address caller);
    error InsufficientStake(uint256 stake, uint256 amount);
    error UnbondingNotDue(uint256 releaseBlock);
    error NothingToWithdraw();
    error JailNotOver(uint256 until);
    error NotJailed();
    error TransferFailed();
    error StakeTooLarge();
    error BadKeySig();
    error BelowMinStake(uint256 minStake);

    modifier onlySystem() {
        if (msg.sender != SYSTEM_ADDRESS) revert NotSystem(msg.sender);
        _;
    }

    /// The record of `key`, which must exist and be owned by the caller.
    function _owned(bytes32 key) private view returns (Validator storage v) {
        v = _validators[key];
        if (v.index == 0) revert UnknownValidator(key);
        if (v.owner != msg.sender) revert NotOwner(key, msg.sender);
    }

    // ------------------------------------------------------------------ anyone

    /// @notice Bond msg.value (at least minStake) for a new consensus key; the caller becomes its
    ///         owner. `keySig` is the key's ed25519 signature over bondDigest(key, caller, operator,
    ///         blsPubKey). The node checks it and the BLS proof of possession at the next epoch
    ///         boundary (keyStatus pending until then); only a confirmed key can be selected. A key
    ///         whose check failed can be bonded again by anyone: the old record's coins go to its
    ///         owner's refund (claimRefund), so a squatter cannot hold a key it does not own.
    function bond(bytes32 key, bytes calldata blsPubKey, bytes calldata blsPop, address operator, bytes calldata keySig) external payable {
        Validator storage v = _validators[key];
        if (v.index != 0) {
            if (v.keyStatus != KEY_REJECTED) revert KeyTaken(key);
            _release(key, v);
        }
        if (blsPubKey.length != BLS_PUBKEY_BYTES || blsPop.length != BLS_POP_BYTES) revert BadBlsKey();
        if (keySig.length != KEY_SIG_BYTES) revert BadKeySig();
        if (operator == address(0)) revert ZeroAddress();
        if (msg.value == 0) revert ZeroAmount();
        // dust bonds would fill the bounded candidate list for free
        if (msg.value < _params.minStake) revert BelowMinStake(_params.minStake);
        if (_candidates.length >= MAX_CANDIDATES) revert TooManyCandidates(MAX_CANDIDATES);
        _candidates.push(key);
        v.index = uint32(_candidates.length);
        v.owner = msg.sender;
        v.operator = operator;
        v.keyStatus = KEY_PENDING;
        v.blsPubKey = blsPubKey;
        v.blsPop = blsPop;
        v.keySig = keySig;
        v.stake = _u128(msg.value);
        v.missedEpoch = NEVER;
        emit Bonded(key, msg.sender, operator, msg.value);
    }

    /// @notice Pay the caller the coins of its released records (see bond).
    function claimRefund() external {
        uint256 amount = refunds[msg.sender];
        if (amount == 0) revert NothingToWithdraw();
        refunds[msg.sender] = 0;
        refundsTotal -= amount;
        emit Refunded(msg.sender, amount);
        (bool ok, ) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /// @notice The digest a bond's consensus key signs (BOND_TYPEHASH, this chain, this contract).
    function bondDigest(bytes32 key, address owner, address operator, bytes memory blsPubKey) public view returns (bytes32) {
        return keccak256(abi.encode(BOND_TYPEHASH, block.chainid, address(this), key, owner, operator, keccak256(blsPubKey)));
    }

    /// @notice Add msg.value to the stake of an owned key.
    function addStake(bytes32 key) external payable {
        Validator storage v = _owned(key);
        if (msg.value == 0) revert ZeroAmount();
        v.stake = _u128(uint256(v.stake) + msg.value);
        emit StakeAdded(key, msg.value, v.stake);
    }

    /// @notice Move `amount` of stake to unbonding, withdrawable after unbondingBlocks. A new
    ///         request restarts the delay for the whole unbonding amount; unbonding stays slashable.
    function unbond(bytes32 key, uint256 amount) external {
        Validator storage v = _owned(key);
        if (amount == 0) revert ZeroAmount();
        if (amount > v.stake) revert InsufficientStake(v.stake, amount);
        v.stake -= uint128(amount);
        v.unbonding += amount;
        uint256 release = block.number + _params.unbondingBlocks;
        v.unbondAt = uint64(release);
        emit UnbondRequested(key, amount, release);
    }

    /// @notice Pay the unbonded amount to the owner once its delay passed. A record left with no
    ///         stake, nothing unbonding, outside the active set and not serving a jail is removed.
    function withdraw(bytes32 key) external {
        Validator storage v = _owned(key);
        uint256 amount = v.unbonding;
        if (amount == 0) revert NothingToWithdraw();
        if (block.number < v.unbondAt) revert UnbondingNotDue(v.unbondAt);
        v.unbonding = 0;
        emit Withdrawn(key, amount);
        _removeIfEmpty(key, v);
        (bool ok, ) = payable(msg.sender).call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /// @notice Leave jail once its delay is over (eligible again from the next epoch).
    function unjail(bytes32 key) external {
        Validator storage v = _owned(key);
        if (!v.jailed) revert NotJailed();
        if (block.number < v.jailedUntil) revert JailNotOver(v.jailedUntil);
        v.jailed = false;
        emit Unjailed(key);
    }

    // ------------------------------------------------------------------ system

    /// @notice Genesis: parameters and the epoch-0 set (confirmed keys, in the given order). The
    ///         node credits Σ stake to this contract just before the call.
    function initialize(Params calldata p, GenesisValidator[] calldata vs) external onlySystem {
        if (initialized) revert AlreadyInitialized();
        if (
            p.epochLength == 0 || p.maxValidators == 0 || p.maxValidators > MAX_SET || p.minStake < POWER_UNIT
                || p.slashBps > BPS || p.downtimeBps > BPS || vs.length == 0 || vs.length > MAX_SET
        ) revert BadParams();
        initialized = true;
        _params = p;
        uint256 total;
        uint256[] memory powers = new uint256[](vs.length);
        bytes32[] memory keys = new bytes32[](vs.length);
        for (uint256 i; i < vs.length; ++i) {
            uint256 st = _addGenesis(vs[i]);
            total += st;
            keys[i] = vs[i].key;
            powers[i] = _powerOf(st);
        }
        if (address(this).balance < total) revert BadParams();
        emit Initialized(p, vs.length, total);
        _storeSet(keys, powers);
    }

    /// A genesis validator: a confirmed candidate (its proof of possession was checked off-chain
    /// when the genesis was built). Returns its stake.
    function _addGenesis(GenesisValidator calldata g) private returns (uint256) {
        Validator storage v = _validators[g.key];
        if (v.index != 0) revert KeyTaken(g.key);
        if (g.blsPubKey.length != BLS_PUBKEY_BYTES || g.blsPop.length != BLS_POP_BYTES) revert BadBlsKey();
        if (g.owner == address(0) || g.operator == address(0)) revert ZeroAddress();
        if (g.stake < POWER_UNIT) revert BadParams();
        _candidates.push(g.key);
        v.index = uint32(_candidates.length);
        v.owner = g.owner;
        v.operator = g.operator;
        v.keyStatus = KEY_CONFIRMED;
        v.blsPubKey = g.blsPubKey;
        v.blsPop = g.blsPop;
        v.stake = _u128(g.stake);
        v.missedEpoch = NEVER;
        return g.stake;
    }

    /// @notice Up to MAX_PENDING_CHECKS candidates whose BLS key awaits the node's check, in
    ///         candidate order (the EVM here has no BLS precompile: the node verifies the proofs of
    ///         possession and answers with confirmKeys).
    function pendingKeys()
        external
        view
        returns (bytes32[] memory keys, bytes[] memory blsPubKeys, bytes[] memory pops, bytes32[] memory digests, bytes[] memory keySigs)
    {
        uint256 n = _candidates.length;
        keys = new bytes32[](MAX_PENDING_CHECKS);
        blsPubKeys = new bytes[](MAX_PENDING_CHECKS);
        pops = new bytes[](MAX_PENDING_CHECKS);
        digests = new bytes32[](MAX_PENDING_CHECKS);
        keySigs = new bytes[](MAX_PENDING_CHECKS);
        uint256 k;
        for (uint256 i; i < n && k < MAX_PENDING_CHECKS; ++i) {
            bytes32 key = _candidates[i];
            Validator storage v = _validators[key];
            if (v.keyStatus != KEY_PENDING) continue;
            keys[k] = key;
            blsPubKeys[k] = v.blsPubKey;
            pops[k] = v.blsPop;
            digests[k] = bondDigest(key, v.owner, v.operator, v.blsPubKey);
            keySigs[k] = v.keySig;
            ++k;
        }
        assembly ("memory-safe") {
            mstore(keys, k)
            mstore(blsPubKeys, k)
            mstore(pops, k)
            mstore(digests, k)
            mstore(keySigs, k)
        }
    }

    /// @notice Record the node's verdicts on pending BLS keys. Unknown or already checked keys are
    ///         ignored; a rejected key is never eligible (its owner can still unbond and withdraw).
    function confirmKeys(bytes32[] calldata valid, bytes32[] calldata invalid) external onlySystem {
        for (uint256 i; i < valid.length; ++i) _check(valid[i], KEY_CONFIRMED);
        for (uint256 i; i < invalid.length; ++i) _check(invalid[i], KEY_REJECTED);
    }

    function _check(bytes32 key, uint8 status) private {
        Validator storage v = _validators[key];
        if (v.index == 0 || v.keyStatus != KEY_PENDING) return;
        v.keyStatus = status;
        emit KeyChecked(key, status);
    }

    /// @notice One more missed block in the current epoch for each key (set members absent from a
    ///         block's commit). Keys outside the current set are ignored.
    function noteMissed(bytes32[] calldata keys) external onlySystem {
        uint256 e = epoch;
        for (uint256 i; i < keys.length; ++i) {
            Validator storage v = _validators[keys[i]];
            if (v.index == 0 || v.activeEpoch != e + 1) continue;
            if (v.missedEpoch != e) {
                v.missedEpoch = uint64(e);
                v.missed = 0;
            }
            v.missed += 1;
        }
    }

    /// @notice Apply committed double-sign evidence: take (stake + unbonding) * slashBps / BPS
    ///         (stake first, then unbonding), keep it in slashedTotal, jail for jailBlocks. An
    ///         unknown key or an evidence hash already applied is ignored (no event).
    function slash(bytes32 key, bytes32 evidenceHash) external onlySystem {
        Validator storage v = _validators[key];
        if (v.index == 0 || evidenceUsed[evidenceHash]) return;
        evidenceUsed[evidenceHash] = true;
        uint256 amount = ((v.stake + v.unbonding) * _params.slashBps) / BPS;
        uint256 fromStake = amount > v.stake ? v.stake : amount;
        v.stake -= uint128(fromStake);
        v.unbonding -= amount - fromStake;
        v.slashed += amount;
        slashedTotal += amount;
        emit Slashed(key, amount, evidenceHash);
        _jail(key, v, JAIL_DOUBLE_SIGN);
    }

    /// @notice Epoch boundary: (1) jail (no slash) members of the current set that missed more
    ///         than epochLength * downtimeBps / BPS blocks of this epoch; (2) select the next set:
    ///         confirmed, unjailed candidates with stake >= minStake, the top maxValidators by
    ///         stake (ties: key ascending), ordered by power descending then key ascending;
    ///         (3) with no eligible candidate keep the current set unchanged; (4) epoch += 1 and
    ///         EpochChanged. Records left empty (see withdraw) are removed from the candidates.
    function closeEpoch() external onlySystem {
        Params memory p = _params;
        uint256 e = epoch;

        // (1) downtime
        uint256 allowed = (uint256(p.epochLength) * p.downtimeBps) / BPS;
        uint256 m = _setKeys.length;
        for (uint256 i; i < m; ++i) {
            bytes32 key = _setKeys[i];
            Validator storage v = _validators[key];
            if (v.jailed || v.missedEpoch != e || v.missed <= allowed) continue;
            _jail(key, v, JAIL_DOWNTIME);
        }

        // (2) selection; empty records are dropped on the way (walking backwards, so a
        //     swap-and-pop removal only moves an already visited key)
        uint256 n = _candidates.length;
        bytes32[] memory keys = new bytes32[](n);
        uint256[] memory stakes = new uint256[](n);
        uint256 k;
        for (uint256 i = n; i > 0; --i) {
            bytes32 key = _candidates[i - 1];
            Validator storage v = _validators[key];
            uint256 st = v.stake;
            if (v.keyStatus == KEY_CONFIRMED && !v.jailed && st >= p.minStake) {
                keys[k] = key;
                stakes[k] = st;
                ++k;
            } else if (st == 0) {
                _removeIfEmpty(key, v);
            }
        }

        bytes32[] memory setKeys;
        uint256[] memory powers;
        if (k == 0) {
            // (3) nobody eligible: the chain keeps its validators
            setKeys = _setKeys;
            powers = new uint256[](setKeys.length);
            for (uint256 i; i < setKeys.length; ++i) powers[i] = _validators[setKeys[i]].power;
        } else {
            assembly ("memory-safe") {
                mstore(keys, k)
                mstore(stakes, k)
            }
            _sortDesc(stakes, keys);
            uint256 size = k < p.maxValidators ? k : p.maxValidators;
            setKeys = keys;
            powers = stakes;
            for (uint256 i; i < size; ++i) powers[i] = _powerOf(stakes[i]);
            assembly ("memory-safe") {
                mstore(setKeys, size)
                mstore(powers, size)
            }
            _sortDesc(powers, setKeys);
        }

        // (4)
        epoch = e + 1;
        _storeSet(setKeys, powers);
    }

    // ------------------------------------------------------------------ views

    function params() external view returns (Params memory) {
        return _params;
    }

    /// @notice The current set with what the node and L1 need of each member.
    function activeSet() external view returns (bytes32[] memory keys, uint256[] memory powers, address[] memory operators, bytes[] memory blsPubKeys) {
        keys = _setKeys;
        powers = new uint256[](keys.length);
        operators = new address[](keys.length);
        blsPubKeys = new bytes[](keys.length);
        for (uint256 i; i < keys.length; ++i) {
            Validator storage v = _validators[keys[i]];
            powers[i] = v.power;
            operators[i] = v.operator;
            blsPubKeys[i] = v.blsPubKey;
        }
    }

    /// @notice Full record of a key (all zero for an unknown key). `missed` counts this epoch only.
    function validator(bytes32 key)
        external
        view
        returns (
            address owner,
            address operator,
            bytes memory blsPubKey,
            uint256 stake,
            uint256 unbonding,
            uint256 unbondAt,
            bool jailed,
            uint256 jailedUntil,
            uint8 keyStatus,
            uint256 missed,
            bool active
        )
    {
        Validator storage v = _validators[key];
        uint256 e = epoch;
        return (
            v.owner,
            v.operator,
            v.blsPubKey,
            v.stake,
            v.unbonding,
            v.unbondAt,
            v.jailed,
            v.jailedUntil,
            v.keyStatus,
            v.missedEpoch == e ? v.missed : 0,
            v.index != 0 && v.activeEpoch == e + 1
        );
    }

    /// @notice Total slashed from one key over its life.
    function slashedOf(bytes32 key) external view returns (uint256) {
        return _validators[key].slashed;
    }

    function candidates() external view returns (bytes32[] memory) {
        return _candidates;
    }

    /// @notice Keys bonded by `owner` (a scan of the bounded candidate list, for the CLI).
    function ownerKeys(address owner) external view returns (bytes32[] memory keys) {
        uint256 n = _candidates.length;
        keys = new bytes32[](n);
        uint256 k;
        for (uint256 i; i < n; ++i) {
            bytes32 key = _candidates[i];
            if (_validators[key].owner == owner) keys[k++] = key;
        }
        assembly ("memory-safe") {
            mstore(keys, k)
        }
    }

    // ------------------------------------------------------------------ internals

    function _jail(bytes32 key, Validator storage v, uint8 reason) private {
        uint256 until = block.number + _params.jailBlocks;
        if (!v.jailed || until > v.jailedUntil) v.jailedUntil = uint64(until);
        v.jailed = true;
        emit Jailed(key, v.jailedUntil, reason);
    }

    /// Delete a record with nothing at stake, outside the active set and not serving a jail, and
    /// free its candidate slot (swap-and-pop); the key can then be bonded afresh.
    function _removeIfEmpty(bytes32 key, Validator storage v) private {
        if (v.stake != 0 || v.unbonding != 0 || v.activeEpoch == epoch + 1) return;
        if (v.jailed && block.number < v.jailedUntil) return;
        _remove(key, v);
    }

    /// A rejected key's record (never selected, so never slashable) makes way for a new bond: its
    /// coins become the old owner's refund.
    function _release(bytes32 key, Validator storage v) private {
        uint256 amount = uint256(v.stake) + v.unbonding;
        address owner = v.owner;
        refunds[owner] += amount;
        refundsTotal += amount;
        emit Released(key, owner, amount);
        _remove(key, v);
    }

    function _remove(bytes32 key, Validator storage v) private {
        uint256 i = v.index - 1;
        uint256 last = _candidates.length - 1;
        if (i != last) {
            bytes32 moved = _candidates[last];
            _candidates[i] = moved;
            _validators[moved].index = uint32(i + 1);
        }
        _candidates.pop();
        delete _validators[key];
        emit Removed(key);
    }

    /// Write the set of the (already advanced) current epoch and mark its members with their power.
    function _storeSet(bytes32[] memory keys, uint256[] memory powers) private {
        uint256 e1 = epoch + 1;
        uint256 old = _setKeys.length;
        for (uint256 i; i < keys.length; ++i) {
            if (i < old) _setKeys[i] = keys[i];
            else _setKeys.push(keys[i]);
            Validator storage v = _validators[keys[i]];
            v.activeEpoch = uint64(e1);
            v.power = uint64(powers[i]);
        }
        for (uint256 i = keys.length; i < old; ++i) _setKeys.pop();
        emit EpochChanged(e1 - 1, keys, powers);
    }

    /// power = stake / POWER_UNIT (a uint128 stake gives at most 3.4e20, capped to uint64 for storage).
    function _powerOf(uint256 stake) private pure returns (uint256 p) {
        p = stake / POWER_UNIT;
        if (p > type(uint64).max) p = type(uint64).max;
    }

    function _u128(uint256 x) private pure returns (uint128) {
        if (x > type(uint128).max) revert StakeTooLarge();
        return uint128(x);
    }

    /// Heap sort, in place, by (value descending, key ascending): O(n log n) for any input. In
    /// assembly: Solidity's bounds-checked indexing made a sort of 512 cost 7.4M gas.
    /// `vals` and `keys` have the same length.
    function _sortDesc(uint256[] memory vals, bytes32[] memory keys) private pure {
        assembly ("memory-safe") {
            // element i comes after element j in the order
            function later(v, k, i, j) -> r {
                let vi := mload(add(v, shl(5, i)))
                let vj := mload(add(v, shl(5, j)))
                r := or(lt(vi, vj), and(eq(vi, vj), gt(mload(add(k, shl(5, i))), mload(add(k, shl(5, j))))))
            }
            function swap(v, k, i, j) {
                let pi := add(v, shl(5, i))
                let pj := add(v, shl(5, j))
                let t := mload(pi)
                mstore(pi, mload(pj))
                mstore(pj, t)
                pi := add(k, shl(5, i))
                pj := add(k, shl(5, j))
                t := mload(pi)
                mstore(pi, mload(pj))
                mstore(pj, t)
            }
            // max-heap on "later": the root is the last element of the order
            function sift(v, k, root, end) {
                for {} 1 {} {
                    let c := add(shl(1, root), 1)
                    if iszero(lt(c, end)) { break }
                    if lt(add(c, 1), end) { if later(v, k, add(c, 1), c) { c := add(c, 1) } }
                    if iszero(later(v, k, c, root)) { break }
                    swap(v, k, c, root)
                    root := c
                }
            }
            let n := mload(vals)
            let v := add(vals, 0x20)
            let k := add(keys, 0x20)
            if gt(n, 1) {
                for { let i := shr(1, n) } gt(i, 0) { i := sub(i, 1) } { sift(v, k, sub(i, 1), n) }
                for { let end := sub(n, 1) } gt(end, 0) { end := sub(end, 1) } {
                    swap(v, k, 0, end)
                    sift(v, k, 0, end)
                }
            }
        }
    }
}
