//! Minimal proxy-wasm ABI 0.2.1 bindings for Zig: the hostcalls this plugin uses, the allocator
//! the host calls (exported as `malloc` and `proxy_on_memory_allocate`), and helpers that free
//! what the host hands over. Add hostcalls here as a plugin needs them; see the ABI reference.
const std = @import("std");

pub const Status = u32; // 0 = Ok, 1 = NotFound, ...
pub const LogLevel = enum(u32) { trace = 0, debug = 1, info = 2, warn = 3, err = 4, critical = 5 };
pub const MapType = enum(u32) { request_headers = 0, request_trailers = 1, response_headers = 2, response_trailers = 3 };
pub const BufferType = enum(u32) { vm_configuration = 6, plugin_configuration = 7 };

extern "env" fn proxy_log(level: u32, ptr: [*]const u8, len: usize) Status;
extern "env" fn proxy_get_buffer_bytes(t: u32, start: u32, max: u32, ptr: *?[*]u8, len: *usize) Status;
extern "env" fn proxy_add_header_map_value(t: u32, kp: [*]const u8, kl: usize, vp: [*]const u8, vl: usize) Status;
extern "env" fn proxy_get_header_map_value(t: u32, kp: [*]const u8, kl: usize, vp: *?[*]u8, vl: *usize) Status;
extern "env" fn proxy_get_header_map_pairs(t: u32, ptr: *?[*]u8, len: *usize) Status;
extern "env" fn proxy_get_property(pp: [*]const u8, pl: usize, vp: *?[*]u8, vl: *usize) Status;

/// A real allocator (grows linear memory), shared by the plugin and the host's copies.
pub const allocator = std.heap.wasm_allocator;

export fn malloc(size: usize) ?[*]u8 {
    const buf = allocator.alloc(u8, size) catch return null;
    return buf.ptr;
}

export fn proxy_on_memory_allocate(size: usize) ?[*]u8 {
    return malloc(size);
}

export fn proxy_abi_version_0_2_1() void {}

/// Bytes the host allocated in this module; free with `deinit`.
pub const HostBytes = struct {
    slice: []u8,
    pub fn deinit(self: HostBytes) void {
        if (self.slice.len > 0) allocator.free(self.slice);
    }
};

fn take(status: Status, ptr: ?[*]u8, len: usize) ?HostBytes {
    if (status != 0) return null;
    if (ptr == null or len == 0) return HostBytes{ .slice = &[_]u8{} };
    return HostBytes{ .slice = ptr.?[0..len] };
}

pub fn log(level: LogLevel, comptime fmt: []const u8, args: anytype) void {
    var buf: [2048]u8 = undefined;
    const msg = std.fmt.bufPrint(&buf, fmt, args) catch buf[0..];
    _ = proxy_log(@intFromEnum(level), msg.ptr, msg.len);
}

pub fn getBuffer(t: BufferType, size: usize) ?HostBytes {
    var ptr: ?[*]u8 = null;
    var len: usize = 0;
    return take(proxy_get_buffer_bytes(@intFromEnum(t), 0, @intCast(size), &ptr, &len), ptr, len);
}

pub fn addHeader(map: MapType, key: []const u8, value: []const u8) Status {
    return proxy_add_header_map_value(@intFromEnum(map), key.ptr, key.len, value.ptr, value.len);
}

pub fn getHeader(map: MapType, key: []const u8) ?HostBytes {
    var ptr: ?[*]u8 = null;
    var len: usize = 0;
    return take(proxy_get_header_map_value(@intFromEnum(map), key.ptr, key.len, &ptr, &len), ptr, len);
}

pub fn getHeaderPairs(map: MapType) ?HostBytes {
    var ptr: ?[*]u8 = null;
    var len: usize = 0;
    return take(proxy_get_header_map_pairs(@intFromEnum(map), &ptr, &len), ptr, len);
}

/// `path` is the property path with segments separated by 0 bytes, e.g. "request\x00headers\x00x".
pub fn getProperty(path: []const u8) ?HostBytes {
    var ptr: ?[*]u8 = null;
    var len: usize = 0;
    return take(proxy_get_property(path.ptr, path.len, &ptr, &len), ptr, len);
}

/// Iterates over serialized header pairs: u32 count, count x (u32 key len, u32 value len),
/// then key bytes, 0, value bytes, 0. Stops at the first inconsistency.
pub const PairIterator = struct {
    data: []const u8,
    count: u32,
    index: u32 = 0,
    offset: usize,

    pub fn init(data: []const u8) PairIterator {
        if (data.len < 4) return .{ .data = data, .count = 0, .offset = 0 };
        const n = std.mem.readIntLittle(u32, data[0..4]);
        const header = 4 + @as(usize, n) * 8;
        if (header > data.len) return .{ .data = data, .count = 0, .offset = 0 };
        return .{ .data = data, .count = n, .offset = header };
    }

    pub fn next(self: *PairIterator) ?struct { key: []const u8, value: []const u8 } {
        if (self.index >= self.count) return null;
        const lens = 4 + @as(usize, self.index) * 8;
        const kl = std.mem.readIntLittle(u32, self.data[lens..][0..4]);
        const vl = std.mem.readIntLittle(u32, self.data[lens + 4 ..][0..4]);
        if (self.offset + kl + 1 + vl + 1 > self.data.len) return null;
        const key = self.data[self.offset .. self.offset + kl];
        const value = self.data[self.offset + kl + 1 .. self.offset + kl + 1 + vl];
        self.offset += kl + 1 + vl + 1;
        self.index += 1;
        return .{ .key = key, .value = value };
    }
};
