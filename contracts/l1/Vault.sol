// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @dev The part of an ERC20 the Vault uses.
interface IVaultToken {
    function balanceOf(address who) external view returns (uint256);
    function transfer(address to, uint256 value) external returns (bool);
    function transferFrom(address from, address to, uint256 value) external returns (bool);
}

/// @dev The part of Checkpoints (ECDSA) or CheckpointsBls the Vault uses: both answer it.
interface IVaultCheckpoints {
    function isCheckpoint(uint64 height, bytes32 blockHash, bytes32 stateRoot, bytes32 withdrawalsRoot)
        external
        view
        returns (bool);
}

/// @title Vault (L1 side): lock the L1 token for the sidechain, release it against withdrawal proofs.
/// @notice `deposit` locks tokens and emits Deposited(nonce, ...); the sidechain credits the
/// recipient with native coin for each nonce, in order. `release` pays a sidechain withdrawal once,
/// given a Merkle proof of its leaf under the withdrawalsRoot of a checkpoint accepted by
/// Checkpoints or CheckpointsBls. The caller passes the checkpoint's roots; the Vault asks the
/// checkpoints contract `isCheckpoint` (CheckpointsBls keeps only a hash of them). The replay guard is keyed by the leaf index alone: the index is both inside the
/// leaf and the leaf's position in the tree (the proof's left/right choices are the index bits),
/// so no other encoding of the same withdrawal can pass a second time.
///
/// Releases are limited per fixed time window (`periodLength` seconds, `periodCap` tokens, set by
/// the owner): a stolen validator quorum can then drain at most one cap per window before anyone
/// reacts (the lesson of the Ronin, Harmony and Polygon incidents).
contract Vault {
    /// @notice A checkpoint as both checkpoints contracts take it.
    struct Checkpoint {
        uint64 height;
        bytes32 blockHash;
        bytes32 stateRoot;
        bytes32 withdrawalsRoot;
    }

    uint256 public constant TREE_DEPTH = 32;

    IVaultToken public immutable token;
    IVaultCheckpoints public immutable checkpoints;

    address public owner;
    /// @notice Nonce the next deposit will get (= number of deposits so far).
    uint256 public nextDepositNonce;
    /// @notice Release window length in seconds and the most that may be released in one window.
    uint256 public periodLength;
    uint256 public periodCap;
    /// @notice Window (block.timestamp / periodLength) of the last release, and the amount released in it.
    uint256 public currentPeriod;
    uint256 public releasedInPeriod;

    /// @dev One bit per withdrawal leaf index.
    mapping(uint256 word => uint256 bits) private _releasedBits;
    /// @dev Reentrancy lock: a token calling back into deposit would otherwise be credited twice
    /// (the outer balance delta would include the inner deposit).
    bool private transient _entered;

    event Deposited(uint256 indexed nonce, address indexed from, address indexed recipient, uint256 amount);
    event Released(uint256 indexed index, address indexed l1Recipient, uint256 amount, uint64 indexed height);
    event RateLimitChanged(uint256 periodLength, uint256 periodCap);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error NotOwner(address caller);
    error ZeroAddress();
    error ZeroAmount();
    error ZeroPeriodLength();
    error TokenTransferFailed();
    error UnknownCheckpoint(uint64 height);
    error IndexOutOfRange(uint256 index);
    error AlreadyReleased(uint256 index);
    error InvalidProof(uint256 index);
    error PeriodCapExceeded(uint256 amount, uint256 remaining);
    error Reentrancy();

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    modifier nonReentrant() {
        if (_entered) revert Reentrancy();
        _entered = true;
        _;
        _entered = false;
    }

    constructor(address token_, address checkpoints_, uint256 periodLength_, uint256 periodCap_) {
        if (token_ == address(0) || checkpoints_ == address(0)) revert ZeroAddress();
        if (periodLength_ == 0) revert ZeroPeriodLength();
        token = IVaultToken(token_);
        checkpoints = IVaultCheckpoints(checkpoints_);
        owner = msg.sender;
        periodLength = periodLength_;
        periodCap = periodCap_;
        emit OwnershipTransferred(address(0), msg.sender);
        emit RateLimitChanged(periodLength_, periodCap_);
    }

    // ---------------------------------------------------------------- deposits

    /// @notice Lock `amount` of the token (approve first) for `recipient` on the sidechain.
    /// @return nonce the deposit's nonce; the amount credited is what the Vault actually received.
    function deposit(address recipient, uint256 amount) external nonReentrant returns (uint256 nonce) {
        if (recipient == address(0)) revert ZeroAddress();
        if (amount == 0) revert ZeroAmount();
        uint256 before = token.balanceOf(address(this));
        _call(abi.encodeCall(IVaultToken.transferFrom, (msg.sender, address(this), amount)));
        // Credit what arrived, not what was asked: safe even for a fee-on-transfer token.
        uint256 received = token.balanceOf(address(this)) - before;
        if (received == 0) revert ZeroAmount();
        nonce = nextDepositNonce++;
        emit Deposited(nonce, msg.sender, recipient, received);
    }

    // ---------------------------------------------------------------- releases

    /// @notice Pay withdrawal `index` (leaf keccak256(abi.encode(index, l1Recipient, amount))) proven
    /// under the withdrawalsRoot of checkpoint `cp` (its height and the three roots L1 accepted for it).
    /// Anyone may call; funds go to l1Recipient.
    /// @param proof the 32 sibling hashes from the leaf up.
    function release(Checkpoint calldata cp, uint256 index, address l1Recipient, uint256 amount, bytes32[32] calldata proof)
        external
        nonReentrant
    {
        if (index >= 2 ** TREE_DEPTH) revert IndexOutOfRange(index);
        if (isReleased(index)) revert AlreadyReleased(index);
        if (!checkpoints.isCheckpoint(cp.height, cp.blockHash, cp.stateRoot, cp.withdrawalsRoot)) {
            revert UnknownCheckpoint(cp.height);
        }
        bytes32 leaf = keccak256(abi.encode(index, l1Recipient, amount));
        if (_rootOf(leaf, index, proof) != cp.withdrawalsRoot) revert InvalidProof(index);
        _consumeRateLimit(amount);
        _releasedBits[index >> 8] |= 1 << (index & 0xff);
        _call(abi.encodeCall(IVaultToken.transfer, (l1Recipient, amount)));
        emit Released(index, l1Recipient, amount, cp.height);
    }

    /// @notice True when withdrawal `index` was already paid.
    function isReleased(uint256 index) public view returns (bool) {
        return (_releasedBits[index >> 8] >> (index & 0xff)) & 1 == 1;
    }

    /// @notice What may still be released in the current window.
    function remainingInPeriod() public view returns (uint256) {
        uint256 used = block.timestamp / periodLength == currentPeriod ? releasedInPeriod : 0;
        return used >= periodCap ? 0 : periodCap - used;
    }

    // ---------------------------------------------------------------- owner

    /// @notice Set the release window and its cap (a cap of 0 stops releases: an emergency brake).
    function setRateLimit(uint256 periodLength_, uint256 periodCap_) external onlyOwner {
        if (periodLength_ == 0) revert ZeroPeriodLength();
        periodLength = periodLength_;
        periodCap = periodCap_;
        emit RateLimitChanged(periodLength_, periodCap_);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        if (newOwner == address(0)) revert ZeroAddress();
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    // ---------------------------------------------------------------- internals

    function _consumeRateLimit(uint256 amount) private {
        uint256 period = block.timestamp / periodLength;
        uint256 used = period == currentPeriod ? releasedInPeriod : 0;
        uint256 cap = periodCap;
        uint256 remaining = used >= cap ? 0 : cap - used;
        if (amount > remaining) revert PeriodCapExceeded(amount, remaining);
        currentPeriod = period;
        releasedInPeriod = used + amount;
    }

    function _rootOf(bytes32 leaf, uint256 index, bytes32[32] calldata proof) private pure returns (bytes32 node) {
        node = leaf;
        for (uint256 h = 0; h < TREE_DEPTH; h++) {
            bytes32 sibling = proof[h];
            bool right = (index >> h) & 1 == 1;
            assembly ("memory-safe") {
                switch right
                case 0 {
                    mstore(0x00, node)
                    mstore(0x20, sibling)
                }
                default {
                    mstore(0x00, sibling)
                    mstore(0x20, node)
                }
                node := keccak256(0x00, 0x40)
            }
        }
    }

    /// @dev Calls the token, accepting tokens that return true or nothing (USDT-style).
    function _call(bytes memory data) private {
        (bool ok, bytes memory ret) = address(token).call(data);
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool))) || (ret.length == 0 && address(token).code.length == 0))
        {
            revert TokenTransferFailed();
        }
    }
}
