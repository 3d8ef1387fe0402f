// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {Bls} from "./Bls.sol";

/// @title CheckpointsBls: the sidechain's validator set (BLS12-381 keys) and one hash per
/// checkpoint it signed, verified as ONE aggregate signature plus a signer bitmap.
/// @notice A checkpoint (height, blockHash, stateRoot, withdrawalsRoot) is accepted when the
/// validators marked in `signers` hold more than 2/3 of the current set's power and `signature`
/// is their aggregate BLS signature of the checkpoint's EIP-712 digest (the same digest as
/// Checkpoints.sol, domain bound to this contract). The contract aggregates the signers' public
/// keys itself (G1ADD) and checks one pairing equation (EIP-2537 precompiles).
///
/// The set is stored as data contracts (code, read with EXTCODECOPY: a few thousand gas for the
/// whole set, where storage would cost 4 cold slots per key): entries of 144 bytes, the key in
/// EIP-2537 G1 encoding (128 bytes) and its power (uint128), at most 128 entries per contract.
/// Keys are strictly ascending by keccak256(key), which makes a repeated key impossible. The
/// outgoing set hands over to the next one by signing BlsValidatorSet(setId, keysHash, powersHash).
///
/// Rogue-key safety rests on proofs of possession: every key entering a set has one, checked by
/// the nodes (genesis) and by the outgoing validators before they sign a hand-over — not here
/// (a PoP check costs a pairing per key).
contract CheckpointsBls {
    struct Checkpoint {
        uint64 height;
        bytes32 blockHash;
        bytes32 stateRoot;
        bytes32 withdrawalsRoot;
    }

    bytes32 public constant CHECKPOINT_TYPEHASH =
        keccak256("Checkpoint(uint64 height,bytes32 blockHash,bytes32 stateRoot,bytes32 withdrawalsRoot)");
    bytes32 public constant VALIDATOR_SET_TYPEHASH =
        keccak256("BlsValidatorSet(uint256 setId,bytes32 publicKeysHash,bytes32 powersHash)");
    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract,bytes32 salt)");
    bytes32 private constant NAME_HASH = keccak256("pocchain-checkpoints");
    bytes32 private constant VERSION_HASH = keccak256("1");

    /// @dev The signer bitmap is one word.
    uint256 public constant MAX_VALIDATORS = 256;
    uint256 public constant MAX_TOTAL_POWER = type(uint128).max;
    uint256 private constant ENTRY = 144;
    uint256 private constant PER_CHUNK = 128;

    uint256 public immutable sidechainChainId;
    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;

    /// @notice Id of the current set: 0 for the constructor's, +1 per hand-over.
    uint256 public validatorSetId;
    uint256 public totalPower;
    uint256 public validatorCount;
    /// @notice Height of the latest accepted checkpoint (0 before the first).
    uint64 public latestHeight;
    /// @notice keccak256(abi.encode(blockHash, stateRoot, withdrawalsRoot)) of the checkpoint at a height.
    mapping(uint64 height => bytes32) public checkpointHash;

    address[] private _chunks;

    event ValidatorSetUpdated(uint256 indexed setId, bytes32 publicKeysHash, uint256[] powers, uint256 totalPower);
    event CheckpointAccepted(
        uint64 indexed height,
        bytes32 blockHash,
        bytes32 stateRoot,
        bytes32 withdrawalsRoot,
        uint256 indexed validatorSetId,
        uint256 signedPower
    );

    error BadSignatureLength(uint256 length);
    error InvalidSignature();
    error SignerOutOfRange(uint256 signers, uint256 validatorCount);
    error InsufficientPower(uint256 signedPower, uint256 totalPower);
    error HeightNotIncreasing(uint64 height, uint64 latestHeight);
    error ZeroBlockHash();
    error EmptyValidatorSet();
    error TooManyValidators(uint256 count, uint256 max);
    error LengthMismatch(uint256 keys, uint256 powers);
    error KeysNotAscending(uint256 position);
    error ZeroKey(uint256 position);
    error ZeroPower(uint256 position);
    error TotalPowerTooLarge();
    error DataWriteFailed();

    /// @param publicKeys the set's keys, 128 bytes each (EIP-2537 G1), ascending by keccak256(key)
    constructor(uint256 sidechainChainId_, bytes memory publicKeys, uint256[] memory powers) {
        sidechainChainId = sidechainChainId_;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
        _setValidators(0, publicKeys, powers);
    }

    // ---------------------------------------------------------------- writes

    /// @notice Accept a checkpoint signed by >2/3 of the current power. Anyone may relay it.
    /// @param signers bit i set ⇔ validator i of the current set signed
    /// @param signature their aggregate signature, 256 bytes (EIP-2537 G2)
    function submitCheckpoint(Checkpoint calldata cp, uint256 signers, bytes calldata signature) external {
        uint64 latest = latestHeight;
        if (cp.height <= latest) revert HeightNotIncreasing(cp.height, latest);
        if (cp.blockHash == bytes32(0)) revert ZeroBlockHash();
        uint256 signed = _verifyQuorum(checkpointDigest(cp), signers, signature);
        latestHeight = cp.height;
        checkpointHash[cp.height] = keccak256(abi.encode(cp.blockHash, cp.stateRoot, cp.withdrawalsRoot));
        emit CheckpointAccepted(cp.height, cp.blockHash, cp.stateRoot, cp.withdrawalsRoot, validatorSetId, signed);
    }

    /// @notice Hand over to a new set; needs >2/3 of the *current* set's power to have signed
    /// BlsValidatorSet(validatorSetId + 1, keccak256(publicKeys), keccak256(powers)).
    function updateValidatorSet(bytes calldata publicKeys, uint256[] calldata powers, uint256 signers, bytes calldata signature)
        external
    {
        uint256 nextId = validatorSetId + 1;
        _verifyQuorum(validatorSetDigest(nextId, publicKeys, powers), signers, signature);
        _setValidators(nextId, publicKeys, powers);
    }

    // ---------------------------------------------------------------- reads

    /// @notice True when (height, roots) is an accepted checkpoint.
    function isCheckpoint(uint64 height, bytes32 blockHash, bytes32 stateRoot, bytes32 withdrawalsRoot)
        external
        view
        returns (bool)
    {
        bytes32 h = checkpointHash[height];
        return h != bytes32(0) && h == keccak256(abi.encode(blockHash, stateRoot, withdrawalsRoot));
    }

    /// @notice The current set: keys (128 bytes each, concatenated) and powers.
    function validators() external view returns (bytes memory publicKeys, uint256[] memory powers) {
        uint256 n = validatorCount;
        bytes memory set = _loadSet(n);
        publicKeys = new bytes(n * 128);
        powers = new uint256[](n);
        for (uint256 i = 0; i < n; i++) {
            uint256 power;
            assembly ("memory-safe") {
                mcopy(add(add(publicKeys, 32), mul(i, 128)), add(add(set, 32), mul(i, ENTRY)), 128)
                power := shr(128, mload(add(add(set, 32), add(mul(i, ENTRY), 128))))
            }
            powers[i] = power;
        }
    }

    function domainSeparator() public view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
    }

    /// @notice The digest validators sign for a checkpoint (identical to Checkpoints.sol's form).
    function checkpointDigest(Checkpoint calldata cp) public view returns (bytes32) {
        return _typedHash(keccak256(abi.encode(CHECKPOINT_TYPEHASH, cp.height, cp.blockHash, cp.stateRoot, cp.withdrawalsRoot)));
    }

    /// @notice The digest validators sign to hand over to set `setId`.
    function validatorSetDigest(uint256 setId, bytes calldata publicKeys, uint256[] calldata powers)
        public
        view
        returns (bytes32)
    {
        return _typedHash(
            keccak256(abi.encode(VALIDATOR_SET_TYPEHASH, setId, keccak256(publicKeys), keccak256(abi.encodePacked(powers))))
        );
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

    /// @dev Sums the signers' power (reverts unless > 2/3), aggregates their keys, checks the
    /// aggregate signature. Power is checked first: an under-signed submission costs no pairing.
    function _verifyQuorum(bytes32 digest, uint256 signers, bytes calldata signature) private view returns (uint256 signed) {
        if (signature.length != 256) revert BadSignatureLength(signature.length);
        uint256 n = validatorCount;
        if (n < 256 && signers >> n != 0) revert SignerOutOfRange(signers, n);
        bytes memory set = _loadSet(n);
        bytes memory agg = new bytes(128);
        bool ok = true;
        assembly ("memory-safe") {
            // buf = acc ‖ next key, G1ADD writes acc back in place
            let buf := mload(0x40)
            mstore(0x40, add(buf, 256))
            let base := add(set, 32)
            let first := 1
            for { let i := 0 } lt(i, n) { i := add(i, 1) } {
                if and(shr(i, signers), 1) {
                    let e := add(base, mul(i, ENTRY))
                    signed := add(signed, shr(128, mload(add(e, 128))))
                    switch first
                    case 1 {
                        mcopy(buf, e, 128)
                        first := 0
                    }
                    default {
                        mcopy(add(buf, 128), e, 128)
                        ok := and(ok, staticcall(gas(), 0x0b, buf, 256, buf, 128))
                    }
                }
            }
            mcopy(add(agg, 32), buf, 128)
        }
        if (!ok) revert Bls.PrecompileFailed(address(0x0b));
        uint256 total = totalPower;
        if (signed * 3 <= total * 2) revert InsufficientPower(signed, total);
        if (!Bls.verify(agg, digest, signature)) revert InvalidSignature();
    }

    function _loadSet(uint256 n) private view returns (bytes memory set) {
        set = new bytes(n * ENTRY);
        uint256 chunks = _chunks.length;
        for (uint256 c = 0; c < chunks; c++) {
            address p = _chunks[c];
            uint256 count = n - c * PER_CHUNK < PER_CHUNK ? n - c * PER_CHUNK : PER_CHUNK;
            assembly ("memory-safe") {
                extcodecopy(p, add(add(set, 32), mul(mul(c, PER_CHUNK), ENTRY)), 1, mul(count, ENTRY))
            }
        }
    }

    function _setValidators(uint256 setId, bytes memory publicKeys, uint256[] memory powers) private {
        if (publicKeys.length % 128 != 0) revert LengthMismatch(publicKeys.length, powers.length);
        uint256 n = publicKeys.length / 128;
        if (n == 0) revert EmptyValidatorSet();
        if (n > MAX_VALIDATORS) revert TooManyValidators(n, MAX_VALIDATORS);
        if (powers.length != n) revert LengthMismatch(n, powers.length);
        bytes memory entries = new bytes(n * ENTRY);
        uint256 total = 0;
        bytes32 prev = bytes32(0);
        for (uint256 i = 0; i < n; i++) {
            bytes32 h;
            bool zero;
            assembly ("memory-safe") {
                let k := add(add(publicKeys, 32), mul(i, 128))
                h := keccak256(k, 128)
                zero := iszero(or(or(mload(k), mload(add(k, 32))), or(mload(add(k, 64)), mload(add(k, 96)))))
                mcopy(add(add(entries, 32), mul(i, ENTRY)), k, 128)
            }
            if (zero) revert ZeroKey(i);
            if (i > 0 && h <= prev) revert KeysNotAscending(i);
            prev = h;
            uint256 p = powers[i];
            if (p == 0) revert ZeroPower(i);
            total += p;
            if (total > MAX_TOTAL_POWER) revert TotalPowerTooLarge();
            assembly ("memory-safe") {
                let e := add(add(add(entries, 32), mul(i, ENTRY)), 128)
                // power as 16 big-endian bytes
                mstore(e, or(shl(128, p), and(mload(e), sub(shl(128, 1), 1))))
            }
        }
        delete _chunks;
        for (uint256 start = 0; start < n; start += PER_CHUNK) {
            uint256 count = n - start < PER_CHUNK ? n - start : PER_CHUNK;
            _chunks.push(_writeData(entries, start * ENTRY, count * ENTRY));
        }
        validatorSetId = setId;
        totalPower = total;
        validatorCount = n;
        emit ValidatorSetUpdated(setId, keccak256(publicKeys), powers, total);
    }

    /// @dev Deploys data[offset, offset+len) as the code of a new contract (after a STOP byte).
    function _writeData(bytes memory data, uint256 offset, uint256 len) private returns (address p) {
        bytes memory init = new bytes(11 + len);
        assembly ("memory-safe") {
            let d := add(init, 32)
            // PUSH2 (len+1) DUP1 PUSH1 0x0a RETURNDATASIZE CODECOPY RETURNDATASIZE RETURN STOP
            mstore(d, or(shl(248, 0x61), or(shl(232, add(len, 1)), shl(168, 0x80600a3d393df300))))
            mcopy(add(d, 11), add(add(data, 32), offset), len)
            p := create(0, d, add(11, len))
        }
        if (p == address(0)) revert DataWriteFailed();
    }
}
