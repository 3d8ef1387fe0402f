// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title Checkpoints: the sidechain's validator set and the checkpoints it signed, on L1.
/// @notice A checkpoint (height, blockHash, stateRoot, withdrawalsRoot) is accepted when signed by
/// validators holding more than 2/3 of the current set's total power; heights strictly increase.
/// The validator set changes only with the signatures of more than 2/3 of the current set.
///
/// Signatures are EIP-712 (secp256k1, `ecrecover`) over a domain that binds the L1 chain id, this
/// contract's address and the sidechain chain id (as the domain `salt`), so a signature for one
/// deployment cannot be replayed on another. Signatures are passed packed (65 bytes each: r, s, v)
/// in strictly ascending order of signer address: the ordering makes a repeated signer impossible
/// without a mapping of "seen" signers.
contract Checkpoints {
    struct Checkpoint {
        uint64 height;
        bytes32 blockHash;
        bytes32 stateRoot;
        bytes32 withdrawalsRoot;
    }

    struct StoredCheckpoint {
        bytes32 blockHash;
        bytes32 stateRoot;
        bytes32 withdrawalsRoot;
    }

    bytes32 public constant CHECKPOINT_TYPEHASH =
        keccak256("Checkpoint(uint64 height,bytes32 blockHash,bytes32 stateRoot,bytes32 withdrawalsRoot)");
    bytes32 public constant VALIDATOR_SET_TYPEHASH =
        keccak256("ValidatorSet(uint256 setId,address[] validators,uint256[] powers)");
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)");
    bytes32 private constant NAME_HASH = keccak256("pocchain-checkpoints");
    bytes32 private constant VERSION_HASH = keccak256("1");

    /// @dev Bounds the gas of one verification and of a set change.
    uint256 public constant MAX_VALIDATORS = 256;
    /// @dev Keeps `power * 3` far from overflow.
    uint256 public constant MAX_TOTAL_POWER = type(uint128).max;
    /// @dev secp256k1n / 2: signatures with a larger s are the malleable twin, refused as in EIP-2.
    uint256 private constant HALF_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    /// @notice The sidechain's chain id, part of every signed digest.
    uint256 public immutable sidechainChainId;
    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    /// @notice Id of the current validator set: 0 for the constructor's, +1 per accepted change.
    uint256 public validatorSetId;
    /// @notice Sum of the current set's powers.
    uint256 public totalPower;
    /// @notice Height of the latest accepted checkpoint (0 before the first).
    uint64 public latestHeight;

    address[] private _validators;
    /// @dev Keyed by set id, so a change never has to delete the old set's entries.
    mapping(uint256 setId => mapping(address validator => uint256 power)) private _power;
    mapping(uint64 height => StoredCheckpoint) private _checkpoints;

    event ValidatorSetUpdated(uint256 indexed setId, address[] validators, uint256[] powers, uint256 totalPower);
    event CheckpointAccepted(
        uint64 indexed height,
        bytes32 blockHash,
        bytes32 stateRoot,
        bytes32 withdrawalsRoot,
        uint256 indexed validatorSetId,
        uint256 signedPower
    );

    error BadSignaturesLength(uint256 length);
    error InvalidSignature(uint256 position);
    error SignersNotAscending(uint256 position, address signer);
    error NotAValidator(uint256 position, address signer);
    error InsufficientPower(uint256 signedPower, uint256 totalPower);
    error HeightNotIncreasing(uint64 height, uint64 latestHeight);
    error ZeroBlockHash();
    error EmptyValidatorSet();
    error TooManyValidators(uint256 count, uint256 max);
    error LengthMismatch(uint256 validators, uint256 powers);
    error ValidatorsNotAscending(uint256 position, address validator);
    error ZeroPower(uint256 position);
    error TotalPowerTooLarge();

    constructor(uint256 sidechainChainId_, address[] memory validators_, uint256[] memory powers_) {
        sidechainChainId = sidechainChainId_;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
        _setValidators(0, validators_, powers_);
    }

    // ---------------------------------------------------------------- writes

    /// @notice Accept a checkpoint signed by >2/3 of the current power. Anyone may relay it.
    /// @param signatures 65-byte (r, s, v) signatures, concatenated, signers strictly ascending.
    function submitCheckpoint(Checkpoint calldata cp, bytes calldata signatures) external {
        uint64 latest = latestHeight;
        if (cp.height <= latest) revert HeightNotIncreasing(cp.height, latest);
        if (cp.blockHash == bytes32(0)) revert ZeroBlockHash();
        uint256 signed = _verifyQuorum(checkpointDigest(cp), signatures);
        latestHeight = cp.height;
        _checkpoints[cp.height] = StoredCheckpoint(cp.blockHash, cp.stateRoot, cp.withdrawalsRoot);
        emit CheckpointAccepted(cp.height, cp.blockHash, cp.stateRoot, cp.withdrawalsRoot, validatorSetId, signed);
    }

    /// @notice Replace the validator set; needs >2/3 of the *current* set's power to sign
    /// ValidatorSet(validatorSetId + 1, validators, powers). Validators strictly ascending.
    function updateValidatorSet(address[] calldata validators_, uint256[] calldata powers_, bytes calldata signatures)
        external
    {
        uint256 nextId = validatorSetId + 1;
        _verifyQuorum(validatorSetDigest(nextId, validators_, powers_), signatures);
        _setValidators(nextId, validators_, powers_);
    }

    // ---------------------------------------------------------------- reads

    /// @notice The accepted checkpoint at `height`; all zero when none was accepted there.
    function checkpointAt(uint64 height)
        external
        view
        returns (bytes32 blockHash, bytes32 stateRoot, bytes32 withdrawalsRoot)
    {
        StoredCheckpoint storage c = _checkpoints[height];
        return (c.blockHash, c.stateRoot, c.withdrawalsRoot);
    }

    /// @notice True when (height, roots) is an accepted checkpoint (the same view as CheckpointsBls,
    /// so Vault and TaskResults serve either contract).
    function isCheckpoint(uint64 height, bytes32 blockHash, bytes32 stateRoot, bytes32 withdrawalsRoot)
        external
        view
        returns (bool)
    {
        StoredCheckpoint storage c = _checkpoints[height];
        return c.blockHash != bytes32(0) && c.blockHash == blockHash && c.stateRoot == stateRoot
            && c.withdrawalsRoot == withdrawalsRoot;
    }

    /// @notice The current validator set, ascending by address.
    function validators() external view returns (address[] memory addrs, uint256[] memory powers) {
        addrs = _validators;
        powers = new uint256[](addrs.length);
        uint256 id = validatorSetId;
        for (uint256 i = 0; i < addrs.length; i++) powers[i] = _power[id][addrs[i]];
    }

    /// @notice Power of `validator` in the current set (0 when not a member).
    function powerOf(address validator) external view returns (uint256) {
        return _power[validatorSetId][validator];
    }

    /// @notice EIP-712 domain separator (name "pocchain-checkpoints", version "1", L1 chain id,
    /// this contract, salt = bytes32(sidechainChainId)).
    function domainSeparator() public view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
    }

    /// @notice The digest validators sign for a checkpoint.
    function checkpointDigest(Checkpoint calldata cp) public view returns (bytes32) {
        bytes32 structHash =
            keccak256(abi.encode(CHECKPOINT_TYPEHASH, cp.height, cp.blockHash, cp.stateRoot, cp.withdrawalsRoot));
        return _typedHash(structHash);
    }

    /// @notice The digest validators sign to hand over to set `setId`.
    function validatorSetDigest(uint256 setId, address[] calldata validators_, uint256[] calldata powers_)
        public
        view
        returns (bytes32)
    {
        // EIP-712 encodes an array as the keccak of its elements' 32-byte encodings, which is
        // exactly abi.encodePacked of an address[]/uint256[] (elements are padded in arrays).
        bytes32 structHash = keccak256(
            abi.encode(
                VALIDATOR_SET_TYPEHASH,
                setId,
                keccak256(abi.encodePacked(validators_)),
                keccak256(abi.encodePacked(powers_))
            )
        );
        return _typedHash(structHash);
    }

    // ---------------------------------------------------------------- internals

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, NAME_HASH, VERSION_HASH, block.chainid, address(this), bytes32(sidechainChainId))
        );
    }

    function _typedHash(bytes32 structHash) private view returns (bytes32) {
        return keccak256(abi.encodePacked(hex"1901", domainSeparator(), structHash));
    }

    /// @dev Recovers every signer, requires strictly ascending members of the current set, and
    /// returns the power they hold; reverts unless it is more than 2/3 of the total.
    function _verifyQuorum(bytes32 digest, bytes calldata signatures) private view returns (uint256 signed) {
        uint256 len = signatures.length;
        if (len == 0 || len % 65 != 0) revert BadSignaturesLength(len);
        uint256 n = len / 65;
        uint256 setId = validatorSetId;
        address prev = address(0);
        for (uint256 i = 0; i < n; i++) {
            bytes32 r;
            bytes32 s;
            uint8 v;
            assembly ("memory-safe") {
                let p := add(signatures.offset, mul(i, 65))
                r := calldataload(p)
                s := calldataload(add(p, 32))
                v := byte(0, calldataload(add(p, 64)))
            }
            if (uint256(s) > HALF_ORDER || (v != 27 && v != 28)) revert InvalidSignature(i);
            address signer = ecrecover(digest, v, r, s);
            if (signer == address(0)) revert InvalidSignature(i);
            if (signer <= prev) revert SignersNotAscending(i, signer);
            uint256 p = _power[setId][signer];
            if (p == 0) revert NotAValidator(i, signer);
            signed += p;
            prev = signer;
        }
        uint256 total = totalPower;
        if (signed * 3 <= total * 2) revert InsufficientPower(signed, total);
    }

    function _setValidators(uint256 setId, address[] memory validators_, uint256[] memory powers_) private {
        uint256 n = validators_.length;
        if (n == 0) revert EmptyValidatorSet();
        if (n > MAX_VALIDATORS) revert TooManyValidators(n, MAX_VALIDATORS);
        if (powers_.length != n) revert LengthMismatch(n, powers_.length);
        uint256 total = 0;
        address prev = address(0);
        for (uint256 i = 0; i < n; i++) {
            address a = validators_[i];
            if (a <= prev) revert ValidatorsNotAscending(i, a);
            uint256 p = powers_[i];
            if (p == 0) revert ZeroPower(i);
            total += p;
            if (total > MAX_TOTAL_POWER) revert TotalPowerTooLarge();
            _power[setId][a] = p;
            prev = a;
        }
        validatorSetId = setId;
        totalPower = total;
        _validators = validators_;
        emit ValidatorSetUpdated(setId, validators_, powers_, total);
    }
}
