#include "device/peer.hpp"

#include <utility>

namespace strait::wg {

Peer::Peer(PeerId id_in, const Key& public_key_in, const StaticIdentity& local, JitterSource jitter,
           std::size_t staging_capacity)
    : id(id_in),
      public_key(public_key_in),
      handshake(local, public_key_in, Key{}),
      cookie_maker(public_key_in),
      timers(std::move(jitter)),
      staged(staging_capacity) {}

}  // namespace strait::wg
